"""The networks table: subnets the head node serves."""

from xcatpy.db.schema import define

TABLES = [
    define("networks", "Describes the networks in the cluster and info necessary to set up "
           "nodes on that network.", ("net", "mask"), [
               ("netname", "Name used to identify this network definition."),
               ("net", "The network address."),
               ("mask", "The network mask."),
               ("mgtifname", "The interface name of the management/service node facing this "
                "network."),
               ("gateway", "The network gateway. It can be set to an ip address or the "
                "keyword <xcatmaster>."),
               ("dhcpserver", "The DHCP server that is servicing this network."),
               ("tftpserver", "The TFTP server that is servicing this network."),
               ("nameservers", "A comma delimited list of DNS servers that each node in this "
                "network should use."),
               ("ntpservers", "The ntp servers for this network."),
               ("logservers", "The log servers for this network."),
               ("dynamicrange", "The IP address range used by DHCP to assign dynamic IP "
                "addresses for requests on this network, as a-b or net/prefix."),
               ("staticrange", "The IP address range used to dynamically assign static IPs "
                "to newly discovered nodes."),
               ("staticrangeincrement", "The increment for staticrange."),
               ("nodehostname", "A regular expression used to specify node name to network "
                "specific hostname."),
               ("ddnsdomain", "A domain to be combined with nodename to construct FQDN for "
                "DDNS updates induced by DHCP."),
               ("vlanid", "The vlan ID if this network is within a vlan."),
               ("domain", "The DNS domain name (ex. cluster.com)."),
               ("mtu", "The default MTU for the network."),
           ]),
]
