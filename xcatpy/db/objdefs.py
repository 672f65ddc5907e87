"""The object view's vocabulary: xCAT object attribute names and the columns behind them.

`lsdef`, `mkdef`, `chdef`, `rmdef`, dynamic groups and attribute selectors all speak in
these names (`vmhost` is vm.host, `mgt` is nodehm.mgt), as xCAT's Schema.pm defspec does.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class AttrSpec:
    name: str
    table: str | None   # None: the attribute is the object's own name
    column: str | None


def _specs(table: str, pairs: str) -> list[AttrSpec]:
    """`name:column` pairs (or bare `name` when both agree) for one table."""
    out = []
    for item in pairs.split():
        name, _, column = item.partition(":")
        out.append(AttrSpec(name, table, column or name))
    return out


NODE_ATTRS: dict[str, AttrSpec] = {a.name: a for a in [
    AttrSpec("node", None, None),
    *_specs("nodelist", "groups status statustime appstatus appstatustime primarysn hidden "
            "updatestatus updatestatustime zonename"),
    *_specs("nodehm", "mgt power cons termserver termport conserver serialport serialspeed "
            "serialflow getmac cmdmapping consoleondemand consoleenabled"),
    *_specs("nodetype", "os arch profile provmethod supportedarchs nodetype"),
    *_specs("noderes", "servicenode netboot tftpserver tftpdir nfsserver monserver nfsdir "
            "installnic primarynic discoverynics cmdinterface xcatmaster nimserver "
            "routenames nameservers proxydhcp syslog"),
    *_specs("mac", "mac"),
    *_specs("hosts", "ip hostnames otherinterfaces"),
    *_specs("bootparams", "kernel initrd kcmdline addkcmdline dhcpstatements adapterid"),
    *_specs("chain", "chain currchain currstate ondiscover"),
    *_specs("postscripts", "postscripts postbootscripts"),
    *_specs("ipmi", "bmc bmcport taggedvlan bmcid bmcusername:username "
            "bmcpassword:password"),
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
]}


def node_attr(name: str) -> AttrSpec | None:
    return NODE_ATTRS.get(name)
