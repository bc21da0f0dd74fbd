-- A ports section with a port outside 1-65535.
return {
  name = "bad",
  roles = { edge_webconf = { "10.9.3.11" } },
  ports = {
    { role = "edge_webconf", transport = "tcp", default = 443, port = 444 },
    { role = "edge_webconf", transport = "tcp", default = 8057,
      port = 70000 },
  },
}
