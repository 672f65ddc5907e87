"""The networks table: subnets the head node serves (xCAT's Schema.pm keys and text)."""

from xcatpy.db.schema import define

TABLES = [
    define("networks", "Describes the networks in the cluster and info necessary to set up "
           "nodes on that network.", ("net", "mask"), [
               ("netname", "Name used to identify this network definition."),
               ("net", "The network address."),
               ("mask", "The network mask."),
               ("mgtifname", "The interface name of the management/service node facing this "
                "network.  !remote!<nicname> indicates a non-local network on a specific nic "
                "for relay DHCP."),
               ("gateway", "The network gateway. It can be set to an ip address or the "
                "keyword <xcatmaster>, the keyword <xcatmaster> indicates the cluster-facing "
                "ip address configured on this management node or service node. Leaving this "
                "field blank means that there is no gateway for this network."),
               ("dhcpserver", "The DHCP server that is servicing this network.  Required to be "
                "explicitly set for pooled service node operation."),
               ("tftpserver", "The TFTP server that is servicing this network.  If not set, "
                "the DHCP server is assumed."),
               ("nameservers", "A comma delimited list of DNS servers that each node in this "
                "network should use. This value will end up in the nameserver settings of the "
                "/etc/resolv.conf on each node in this network. In a hierarchical cluster, you "
                "can also set this attribute to \"<xcatmaster>\" to mean the DNS server for "
                "each node in this network should be the node that is managing it (either its "
                "service node or the management node)."),
               ("ntpservers", "The ntp servers for this network.  Used in creating the DHCP "
                "network definition.  Assumed to be the DHCP server if not set."),
               ("logservers", "The log servers for this network.  Used in creating the DHCP "
                "network definition.  Assumed to be the DHCP server if not set."),
               ("dynamicrange", "The IP address range used by DHCP to assign dynamic IP "
                "addresses for requests on this network.  This should not overlap with "
                "entities expected to be configured with static host declarations, i.e. "
                "anything ever expected to be a node with an address registered in the mac "
                "table."),
               ("staticrange", "The IP address range used to dynamically assign static IPs to "
                "newly discovered nodes.  This should not overlap with the dynamicrange nor "
                "overlap with entities that were manually assigned static IPs.  The format "
                "for the attribute value is:    <startip>-<endip>."),
               ("staticrangeincrement", "The increment value used when getting the next "
                "available IP in the staticrange."),
               ("nodehostname", "A regular expression used to specify node name to "
                "network-specific hostname.  i.e. \"/\\z/-secondary/\" would mean that the "
                "hostname of \"n1\" would be n1-secondary on this network.  By default, the "
                "nodename is assumed to equal the hostname, followed by "
                "nodename-interfacename."),
               ("ddnsdomain", "A domain to be combined with nodename to construct FQDN for "
                "DDNS updates induced by DHCP.  This is not passed down to the client as "
                "\"domain\""),
               ("vlanid", "The vlan ID if this network is within a vlan."),
               ("domain", "The DNS domain name (ex. cluster.com)."),
               ("mtu", "The default MTU on the network (ex. 1500 or 9000)."),
           ]),
]

# What makedhcp and makedns have published, and the leases the embedded DHCP service gave
# out. xCAT keeps these in dhcpd.leases and named's zone files; keeping them as tables
# makes publishing one transaction with the command, lets the embedded services see a
# change on their next packet, and lets every DHCP backend be regenerated from one source.
EXTENSION_TABLES = [
    define("dhcpreservation", "(xcatpy extension) Static DHCP leases published by makedhcp: "
           "the embedded DHCP service answers these, and the ISC, Kea and dnsmasq exports are "
           "written from them.", "mac", [
               ("mac", "The client's hardware address (lower case, colon separated)."),
               ("node", "The node the address belongs to."),
               ("ip", "The IPv4 address the client is given (from hosts.ip)."),
               ("hostname", "The host name sent to the client."),
           ]),
    define("dhcplease", "(xcatpy extension) Dynamic leases the embedded DHCP service gave out "
           "from a networks.dynamicrange.", "mac", [
               ("mac", "The client's hardware address (lower case, colon separated)."),
               ("ip", "The leased IPv4 address."),
               ("hostname", "The host name the client sent, if any."),
               ("expires", "When the lease ends, in seconds since the epoch."),
           ]),
    define("dnsrecord", "(xcatpy extension) DNS records published by makedns: the embedded DNS "
           "service answers them, and external servers are sent the same records as dynamic "
           "updates.", ("name", "type", "value"), [
               ("name", "The owner name, fully qualified, without the final dot."),
               ("type", "A, AAAA or PTR."),
               ("value", "The address (A, AAAA) or the fully qualified target name (PTR)."),
               ("node", "The node the record was made for."),
               ("ttl", "Time to live in seconds; blank means the zone default."),
           ]),
]

TABLES += EXTENSION_TABLES
