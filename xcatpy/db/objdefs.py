"""The object view's vocabulary: xCAT object types, attribute names and the columns behind them.

`lsdef`, `mkdef`, `chdef`, `rmdef`, dynamic groups and attribute selectors all speak in
these names (`vmhost` is vm.host, `mgt` is nodehm.mgt), as xCAT's Schema.pm defspec does.
Types xcatpy has no tables for (route, zone, kit, ...) are not offered.
"""

from dataclasses import dataclass, field

from xcatpy.db.schema import TABLES
from xcatpy.errors import XcatError


@dataclass(frozen=True)
class AttrSpec:
    name: str
    table: str | None   # None: the attribute is the object's own name
    column: str | None
    # xCAT's only_if: the attribute exists for an object only while another of its
    # attributes has one of these values (bmc only for mgt=ipmi, template for linux images).
    only_if: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class ObjType:
    name: str
    key: str                   # the attribute that names the object (xCAT's objkey)
    key_table: str | None      # the table whose rows define which objects exist
    attrs: dict[str, AttrSpec] = field(default_factory=dict)
    # site: any attribute name is valid; each is a key of the site table
    free_form: bool = False

    def attr(self, name: str) -> AttrSpec:
        spec = self.attrs.get(name)
        if spec is None:
            raise XcatError(f"'{name}' is not a valid attribute name for an object type "
                            f"of '{self.name}'.")
        return spec

    def stored_attrs(self) -> list[AttrSpec]:
        """Attributes that live in a table column (all but the naming one)."""
        return [a for a in self.attrs.values() if a.table is not None and a.name != self.key]


def _specs(table: str, pairs: str, only_if: tuple[str, tuple[str, ...]] | None = None
           ) -> list[AttrSpec]:
    """`name:column` pairs (or bare `name` when both agree) for one table.

    A column the schema does not have is left out, so the vocabulary never offers an
    attribute that cannot be stored (tests/unit/db/test_objects.py lists the ones that
    must be there).
    """
    out = []
    for item in pairs.split():
        name, _, column = item.partition(":")
        if TABLES[table].has_column(column or name):
            out.append(AttrSpec(name, table, column or name, only_if))
    return out


_IPMI_ONLY = ("mgt", ("ipmi", "openbmc", "redfish"))
_LINUX_ONLY = ("imagetype", ("linux",))

# Attributes a node and a group share (Schema.pm's @nodeattrs): a group carries them in
# the node-keyed tables under its own name, and its member nodes inherit them.
_SHARED_NODE_ATTRS: list[AttrSpec] = [
    *_specs("nodehm", "mgt power cons termserver termport conserver serialport serialspeed "
            "serialflow getmac cmdmapping consoleondemand consoleenabled"),
    *_specs("nodetype", "os arch profile provmethod supportedarchs nodetype"),
    *_specs("noderes", "servicenode netboot tftpserver tftpdir nfsserver monserver nfsdir "
            "installnic primarynic discoverynics cmdinterface xcatmaster nimserver "
            "routenames nameservers supportproxydhcp:proxydhcp syslog"),
    *_specs("mac", "mac interface"),
    *_specs("hosts", "ip hostnames otherinterfaces"),
    *_specs("bootparams", "kernel initrd kcmdline addkcmdline dhcpstatements "
            "adddhcpstatements"),
    *_specs("chain", "chain currchain currstate ondiscover"),
    *_specs("postscripts", "postscripts postbootscripts"),
    *_specs("ipmi", "bmc bmcport bmcvlantag:taggedvlan bmcid bmcusername:username "
            "bmcpassword:password", _IPMI_ONLY),
    *_specs("vm", "vmmanager:mgr vmhost:host migrationdest vmstorage:storage "
            "vmstoragemodel:storagemodel vmstoragecache:storagecache "
            "vmstorageformat:storageformat vmcfgstore:cfgstore vmmemory:memory vmcpus:cpus "
            "vmnics:nics vmnicnicmodel:nicmodel vmbootorder:bootorder "
            "vmclockoffset:clockoffset vmvirtflags:virtflags vmmaster:master "
            "vmvncport:vncport vmtextconsole:textconsole vmpowerstate:powerstate "
            "vmbeacon:beacon vmdatacenter:datacenter vmcluster:cluster "
            "vmguestostype:guestostype vmothersetting:othersettings vmphyslots:physlots "
            "vmvidmodel:vidmodel vmvidproto:vidproto vmvidpassword:vidpassword "
            "vmuuid:uuid vmmaxmem:maxmem vmautostart:autostart"),
    *_specs("hypervisor", "hosttype:type hostmanager:mgr hostinterface:interface "
            "hostnetmap:netmap hostdefaultnet:defaultnet hostcluster:cluster "
            "hostdatacenter:datacenter hostpreferdirect:preferdirect "
            "hostmemory:memory hostoverhead:overhead hostdom0mem:dom0mem "
            "hostrelocation:relocation hostrelocationhosts:relocationhosts "
            "hostmaintenance:maintenance hostcpufeatures:cpufeatures"),
    *_specs("servicenode", "setupnameserver:nameserver setupdhcp:dhcpserver "
            "setuptftp:tftpserver setupnfs:nfsserver setupconserver:conserver "
            "setupldap:ldapserver setupntp:ntpserver "
            "setupftp:ftpserver setupnim:nimserver setupipforward:ipforward "
            "dhcpinterfaces:dhcpinterfaces setupproxydhcp:proxydhcp"),
]


def _by_name(specs: list[AttrSpec]) -> dict[str, AttrSpec]:
    return {a.name: a for a in specs}


NODE_ATTRS: dict[str, AttrSpec] = _by_name([
    AttrSpec("node", None, None),
    *_specs("nodelist", "groups status statustime appstatus appstatustime primarysn hidden "
            "updatestatus updatestatustime zonename usercomment:comments"),
    *_SHARED_NODE_ATTRS,
])

GROUP_ATTRS: dict[str, AttrSpec] = _by_name([
    AttrSpec("groupname", "nodegroup", "groupname"),
    *_specs("nodegroup", "grouptype members membergroups wherevals usercomment:comments"),
    *_SHARED_NODE_ATTRS,
])

NETWORK_ATTRS: dict[str, AttrSpec] = _by_name(_specs(
    "networks", "netname net mask mgtifname gateway dhcpserver tftpserver nameservers "
    "ntpservers logservers dynamicrange staticrange staticrangeincrement nodehostname "
    "ddnsdomain vlanid domain mtu usercomment:comments"))

OSIMAGE_ATTRS: dict[str, AttrSpec] = _by_name([
    *_specs("osimage", "imagename groups imagetype description provmethod osdistroname "
            "osupdatename cfmdir rootfstype profile osname osvers osarch synclists "
            "postscripts postbootscripts serverrole isdeletable kitcomponents environvar"),
    *_specs("linuximage", "template boottarget addkcmdline pkglist pkgdir otherpkglist "
            "otherpkgdir exlist postinstall rootimgdir kerneldir nodebootif otherifce "
            "netdrivers kernelver krpmver permission dump crashkernelsize partitionfile "
            "driverupdatesrc usercomment:comments", _LINUX_ONLY),
])

POLICY_ATTRS: dict[str, AttrSpec] = _by_name(_specs(
    "policy", "priority name host commands noderange parameters time rule "
    "usercomment:comments"))

# The one site object; its attributes are the site table's keys.
SITE_OBJECT = "clustersite"

TYPES: dict[str, ObjType] = {t.name: t for t in [
    ObjType("node", "node", "nodelist", NODE_ATTRS),
    ObjType("group", "groupname", "nodegroup", GROUP_ATTRS),
    ObjType("network", "netname", "networks", NETWORK_ATTRS),
    ObjType("osimage", "imagename", "osimage", OSIMAGE_ATTRS),
    ObjType("site", "master", "site", {}, free_form=True),
    ObjType("policy", "priority", "policy", POLICY_ATTRS),
]}


# What a real xCAT's `lsdef -z` may hold that xcatpy has no tables for: object types and
# node/group attributes (Schema.pm's vpd, nodepos, nics, ppc, mp, switch, ... tables).
# mkdef -z / chdef -z skip them with a warning, so a site's stanza file still loads.
XCAT_ONLY_TYPES = frozenset(
    "route rack zone kit kitrepo kitcomponent osdistro osdistroupdate boottarget "
    "monitoring notification eventlog auditlog firmware pdu taskstate".split())
XCAT_ONLY_NODE_ATTRS = frozenset(
    "serial mtm side rack unit chassis slot room height productkey ou domainadminuser "
    "domainadminpassword authdomain domaintype osvolume storagcontroller storagetype "
    "iscsiserver iscsitarget iscsiuserid iscsipassword hcp id pprofile parent hwtype "
    "supernode sfp mpa slotid username password displayname slots urlpath switch "
    "switchport switchvlan switchinterface prescripts-begin prescripts-end cfgmgr "
    "cfgserver cfgmgtroles michost micid micbridge miconboot micvlog micpowermgt cputype "
    "cpucount memory disksize snmpusername snmppassword snmpversion snmpprivacy snmpauth "
    "linkports protocol switchtype webport userid nicips nichostnamesuffixes "
    "nichostnameprefixes nictypes niccustomscripts nicnetworks nicaliases "
    "nicextraparams".split())


def xcat_only_attr(otype: "ObjType", name: str) -> bool:
    """An attribute real xCAT has for this type but xcatpy does not store."""
    if otype.name not in ("node", "group"):
        return False
    base = name.split(".", 1)[0]
    return base in XCAT_ONLY_NODE_ATTRS or base == "passwd"


def node_attr(name: str) -> AttrSpec | None:
    return NODE_ATTRS.get(name)


def obj_type(name: str) -> ObjType:
    try:
        return TYPES[name]
    except KeyError:
        raise XcatError(f"Type '{name}' is not a valid xCAT object type.") from None


def obj_types(text: str) -> list[ObjType]:
    """A comma-separated `-t` value, each type checked."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise XcatError("No object type was given with -t.")
    return [obj_type(n) for n in names]


def only_if_holds(spec: AttrSpec, values: dict[str, str | None]) -> bool:
    """Whether a conditional attribute applies, given the object's other values.

    xCAT matches the condition as a word (/\\bipmi\\b/), so `mgt=ipmi,kvm` counts.
    """
    if spec.only_if is None:
        return True
    attr, wanted = spec.only_if
    words = set((values.get(attr) or "").replace(",", " ").split())
    return bool(words.intersection(wanted))
