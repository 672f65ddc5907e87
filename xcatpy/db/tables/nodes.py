"""Tables keyed by node (or group) name that describe a node's identity and management."""

from xcatpy.db.schema import define

TABLES = [
    define("nodelist", "The list of all the nodes in the cluster, including each node's current "
           "status and what groups it is in.", "node", [
               ("node", "The hostname of a node in the cluster."),
               ("groups", "A comma-delimited list of groups this node is a member of."),
               ("status", "The current status of this node."),
               ("statustime", "The data and time when the status was updated."),
               ("appstatus", "A comma-delimited list of application status."),
               ("appstatustime", "The date and time when appstatus was updated."),
               ("primarysn", "Not used currently. The primary servicenode, used by this node."),
               ("hidden", "Used to hide fsp and bpa definitions, 1 means not show them when "
                "running lsdef and nodels"),
               ("updatestatus", "The current node update status."),
               ("updatestatustime", "The date and time when the updatestatus was updated."),
               ("zonename", "The name of the zone to which the node is currently assigned."),
           ]),
    define("nodehm", "Settings that control how each node's hardware is managed.", "node", [
        ("node", "The node name or group name."),
        ("power", "The method to use to control the power of the node. If not set, the mgt "
         "attribute will be used."),
        ("mgt", "The method to use to do general hardware management of the node (ipmi, xen, "
         "kvm, esx, ...)."),
        ("cons", "The console method."),
        ("termserver", "The hostname of the terminal server."),
        ("termport", "The port number on the terminal server that this node is connected to."),
        ("conserver", "The hostname of the machine where the conserver daemon is running."),
        ("serialport", "The serial port for this node, in the linux numbering style (0=COM1)."),
        ("serialspeed", "The speed of the serial port for this node."),
        ("serialflow", "The flow control value of the serial port for this node."),
        ("getmac", "The method to use to get MAC address of the node with the getmac command."),
        ("cmdmapping", "The fully qualified name of the file that stores the mapping between "
         "PCM hardware management commands and xCAT/third-party hardware management commands."),
        ("consoleondemand", "Open the console only when a client connects (yes/no)."),
        ("consoleenabled", "Whether the console is enabled (1) or not."),
    ]),
    define("nodetype", "A few hardware and software characteristics of the nodes.", "node", [
        ("node", "The node name or group name."),
        ("os", "The operating system deployed on this node. Valid values: AIX, rhels*, rhelc*, "
         "rhas*, centos*, SL*, fedora*, sles* (where * is the version #)."),
        ("arch", "The hardware architecture of this node. Valid values: x86_64, ppc64, x86, "
         "ia64, armv7l, aarch64."),
        ("profile", "The string to use to locate a kickstart or autoyast template to use for OS "
         "deployment of this node."),
        ("provmethod", "The provisioning method for node deployment: install, netboot, "
         "statelite or an osimage name."),
        ("supportedarchs", "Comma delimited list of architectures this node can execute."),
        ("nodetype", "A comma-delimited list of characteristics of this node (osi, hmc, fsp, "
         "bpa, mm, ivm, ...)."),
    ]),
    define("noderes", "Resources and settings to use when installing nodes.", "node", [
        ("node", "The node name or group name."),
        ("servicenode", "A comma separated list of node names (as known by the management "
         "node) that provides most services for this node."),
        ("netboot", "The type of network booting to use for this node (pxe, xnba, grub2, "
         "petitboot, onie, yaboot)."),
        ("tftpserver", "The TFTP server for this node (as known by this node)."),
        ("tftpdir", "The directory that roots this nodes contents from a tftp and related "
         "perspective."),
        ("nfsserver", "The NFS or HTTP server for this node (as known by this node)."),
        ("monserver", "The monitoring aggregation point for this node."),
        ("nfsdir", "The path that should be mounted from the NFS server."),
        ("installnic", "The network adapter on the node that will be used for OS deployment."),
        ("primarynic", "This attribute will be deprecated. All the used network interface "
         "will be determined by installnic."),
        ("discoverynics", "If specified, force discovery to occur on specific network "
         "adapters only."),
        ("cmdinterface", "Not currently used."),
        ("xcatmaster", "The hostname of the xCAT service node (as known by this node)."),
        ("current_osimage", "Not currently used. The name of the osimage data object that "
         "represents the OS image currently deployed on this node."),
        ("next_osimage", "Not currently used. The name of the osimage data object that "
         "represents the OS image that will be installed on the node the next time it is "
         "deployed."),
        ("nimserver", "Not used for now. The NIM server for this node."),
        ("routenames", "A comma separated list of route names that refer to rows in the "
         "routes table."),
        ("nameservers", "An optional node/group specific override for name server list."),
        ("proxydhcp", "To specify whether the node supports proxydhcp protocol (yes/no)."),
        ("syslog", "To configure how to configure syslog for compute node."),
    ]),
    define("mac", "The MAC address of the node's install adapter.", "node", [
        ("node", "The node name or group name."),
        ("interface", "The adapter interface name that will be used to install and manage "
         "the node. E.g. eth0."),
        ("mac", "The mac address or addresses for which xCAT will manage static bindings for "
         "this node, '|'-separated."),
    ]),
    define("hosts", "IP addresses and hostnames of nodes.", "node", [
        ("node", "The node name or group name."),
        ("ip", "The IP address of the node. This is only used in makehosts."),
        ("hostnames", "Hostname aliases added to /etc/hosts for this node, comma or blank "
         "separated."),
        ("otherinterfaces", "Other IP addresses to add for this node, as "
         "-<ext>:<ip>,<intfhostname>:<ip>,..."),
    ]),
    define("bootparams", "Current boot settings to be sent to systems attempting network "
           "boot for deployment, stateless, or other reasons.", "node", [
               ("node", "The node or group name"),
               ("kernel", "The kernel that network boot actions should currently acquire and "
                "use."),
               ("initrd", "The initial ramdisk image that network boot actions should use."),
               ("kcmdline", "Arguments to be passed to the kernel."),
               ("addkcmdline", "User specified arguments to be passed to the kernel, appended "
                "to the generated command line."),
               ("dhcpstatements", "xCAT manipulated custom dhcp statements (not intended for "
                "user manipulation)."),
               ("adapterid", "The adapter id to use for network boot."),
           ]),
    define("chain", "Controls what operations are done (and it what order) when a node is "
           "discovered and deployed.", "node", [
               ("node", "The node name or group name."),
               ("currstate", "The current or next chain step for this node."),
               ("currchain", "The chain steps still left to do for this node."),
               ("chain", "A comma-delimited chain of actions to be performed automatically "
                "when this node is discovered."),
               ("ondiscover", "This attribute is currently not used by xCAT."),
           ]),
    define("postscripts", "The scripts that should be run on each node after installation or "
           "diskless boot.", "node", [
               ("node", "The node name or group name; 'xcatdefaults' applies to every node."),
               ("postscripts", "Comma separated list of scripts that should be run on this "
                "node after diskful installation or diskless boot."),
               ("postbootscripts", "Comma separated list of scripts that should be run on "
                "this node after diskful installation or diskless boot, on every boot."),
           ]),
    define("ipmi", "Settings for nodes that are controlled by an on-board BMC via IPMI.",
           "node", [
               ("node", "The node name or group name."),
               ("bmc", "The hostname of the BMC adapter."),
               ("bmcport", "In systems with selectable shared/dedicated ethernet ports, this "
                "parameter can be used to specify the preferred port."),
               ("taggedvlan", "Have bmcsetup place the BMC on the specified vlan tag."),
               ("bmcid", "Unique identified data used by discovery processes to distinguish "
                "known BMCs from unrecognized BMCs"),
               ("username", "The BMC userid. If not specified, the key=ipmi row in the passwd "
                "table is used as the default."),
               ("password", "The BMC password. If not specified, the key=ipmi row in the "
                "passwd table is used as the default."),
           ]),
    define("servicenode", "List of all Service Nodes and services that will be set up on the "
           "Service Node.", "node", [
               ("node", "The hostname of the service node as known by the Management Node."),
               ("nameserver", "Do we set up DNS on this service node? 1 = yes, 2 = as a DNS "
                "master, 0 = no."),
               ("dhcpserver", "Do we set up DHCP on this service node? (1/0)"),
               ("tftpserver", "Do we set up TFTP on this service node? (1/0)"),
               ("nfsserver", "Do we set up file services (HTTP,FTP,or NFS) on this service "
                "node? (1/0)"),
               ("conserver", "Do we set up Conserver on this service node? (1/0)"),
               ("monserver", "Is this a monitoring event collection point? (1/0)"),
               ("ldapserver", "Do we set up ldap caching proxy on this service node? (1/0)"),
               ("ntpserver", "Not used. Use setupntp postscript to setup a ntp server."),
               ("ftpserver", "Do we set up a ftp server on this service node? (1/0)"),
               ("nimserver", "Not used. Do we set up a NIM server on this service node?"),
               ("ipforward", "Do we set up ip forwarding on this service node? (1/0)"),
               ("dhcpinterfaces", "The network interfaces DHCP server should listen on for "
                "the target node."),
               ("proxydhcp", "Do we set up proxydhcp service on this node? (1/0)"),
           ]),
    define("nodegroup", "Contains group definitions, whose membership is dynamic depending on "
           "characteristics of the node.", "groupname", [
               ("groupname", "Name of the group."),
               ("grouptype", "Static or Dynamic. A static group is defined to contain a "
                "specific set of cluster nodes. A dynamic node group is one that has its "
                "members determined by specifying a selection criteria for node attributes."),
               ("members", "The value of the attribute is not used, but the attribute is "
                "necessary as a place holder for the object def commands."),
               ("membergroups", "This attribute stores a comma-separated list of nodegroups "
                "that this nodegroup refers to."),
               ("wherevals", "A list of \"attr*val\" pairs that can be used to determine the "
                "members of a dynamic group, the delimiter is \"::\" and the operator * can be "
                "==, =~, != or !~."),
           ]),
]
