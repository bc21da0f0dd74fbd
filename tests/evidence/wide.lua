-- tests/evidence: a deployment that covers every address, so that the
-- shared captures (which show no real Lync deployment) give flows between
-- roles, some allowed and some violations. Longest prefix wins.
return {
  name = "evidence-wide",
  roles = {
    front_end       = { "10.0.0.0/8", "::/2" },
    edge_internal   = { "172.16.0.0/12", "4000::/2" },
    client_internal = { "192.168.0.0/16", "8000::/2" },
    edge_av         = { "0.0.0.0/1", "c000::/2" },
    client_external = { "128.0.0.0/1" },
  },
  options = { port_policy = "destination" },
}
