-- The deployment that samples/lync-sample.pcap shows (scripts/make-sample.sh
-- made it on loopback; samples/README.md lists its flows). Every "host" is its
-- own 127.20.x.y address. Run: lyncaudit -t samples/topology.lua samples/lync-sample.pcap
return {
  name = "contoso-sample",
  roles = {
    front_end          = { "127.20.1.10", "127.20.1.11" },  -- pool01: fe01, fe02
    edge_internal      = { "127.20.2.1" },
    edge_access        = { "127.20.3.9" },                  -- Access Edge and XMPP proxy
    edge_av            = { "127.20.3.10" },
    edge_webconf       = { "127.20.3.11" },
    mediation          = { "127.20.4.10" },
    pstn_gateway       = { "127.20.5.10" },
    director           = { "127.20.6.10" },
    reverse_proxy      = { "127.20.7.10" },
    client_internal    = { "127.20.10.0/24" },
    client_external    = { "127.20.20.0/24" },
    federation_partner = { "127.20.30.0/24" },
    xmpp_partner       = { "127.20.31.0/24" },
  },
  -- The Edge external interfaces are not behind NAT in the sample.
  nat = {},
  -- 127.20.9.1 stands in for a device that rewrites source addresses; its
  -- connection to the Edge internal interface is the sample's NAT violation.
  nat_devices = { "127.20.9.1" },
  options = {
    ocs2007_federation = false,          -- so UDP to the A/V Edge on 55000 is a port_range violation
    xmpp_federation    = true,           -- TCP 5269 on the Access Edge is in use
    public_im          = false,
    load_balancing     = "dns",          -- no hardware load balancer in the sample
    -- client_media_ports: not set, 1024-65535 (the TURN clients use ephemeral ports)
    port_policy        = "destination",
    sip_tcp_5060       = false,          -- no static routes: cleartext SIP to a Front End's 5060 is a finding
  },
}
