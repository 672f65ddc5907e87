"""The schema against xCAT's Schema.pm, the defaults against xcatconfig, and conf/*.csv."""

from pathlib import Path

import pytest

from tests.gen_default_conf import CONF_DIR, render
from xcatpy.db import csvformat, defaults
from xcatpy.db.schema import TABLES, table
from xcatpy.db.tables import images, network, nodes, site, virt

# xCAT's keys and columns (Schema.pm, as its man5 pages publish them), without the
# comments and disable columns every table ends with.
XCAT_TABLES = {
    "nodelist": ("node", "node groups status statustime appstatus appstatustime primarysn "
                 "hidden updatestatus updatestatustime zonename"),
    "nodehm": ("node", "node power mgt cons termserver termport conserver serialport "
               "serialspeed serialflow getmac cmdmapping consoleondemand consoleenabled"),
    "nodetype": ("node", "node os arch profile provmethod supportedarchs nodetype"),
    "noderes": ("node", "node servicenode netboot tftpserver tftpdir nfsserver monserver "
                "nfsdir installnic primarynic discoverynics cmdinterface xcatmaster "
                "current_osimage next_osimage nimserver routenames nameservers proxydhcp "
                "syslog"),
    "vm": ("node", "node mgr host migrationdest storage storagemodel storagecache "
           "storageformat cfgstore memory cpus nics nicmodel bootorder clockoffset virtflags "
           "master vncport textconsole powerstate beacon datacenter cluster guestostype "
           "othersettings physlots vidmodel vidproto vidpassword"),
    "hypervisor": ("node", "node type mgr interface netmap defaultnet cluster datacenter "
                   "preferdirect"),
    "vmmaster": ("name", "name os arch profile storage storagemodel nics vintage originator "
                 "virttype specializeparameters"),
    "mac": ("node", "node interface mac"),
    "hosts": ("node", "node ip hostnames otherinterfaces"),
    "networks": ("net mask", "netname net mask mgtifname gateway dhcpserver tftpserver "
                 "nameservers ntpservers logservers dynamicrange staticrange "
                 "staticrangeincrement nodehostname ddnsdomain vlanid domain mtu"),
    "site": ("key", "key value"),
    "passwd": ("key username", "key username password cryptmethod authdomain"),
    "bootparams": ("node", "node kernel initrd kcmdline addkcmdline dhcpstatements "
                   "adddhcpstatements"),
    "chain": ("node", "node currstate currchain chain ondiscover"),
    "policy": ("priority", "priority name host commands noderange parameters time rule"),
    "nodegroup": ("groupname", "groupname grouptype members membergroups wherevals"),
    "servicenode": ("node", "node nameserver dhcpserver tftpserver nfsserver conserver "
                    "monserver ldapserver ntpserver ftpserver nimserver ipforward "
                    "dhcpinterfaces proxydhcp"),
    "postscripts": ("node", "node postscripts postbootscripts"),
    "osimage": ("imagename", "imagename groups profile imagetype description provmethod "
                "rootfstype osdistroname osupdatename cfmdir osname osvers osarch synclists "
                "postscripts postbootscripts serverrole isdeletable kitcomponents environvar"),
    "linuximage": ("imagename", "imagename template boottarget addkcmdline pkglist pkgdir "
                   "otherpkglist otherpkgdir exlist postinstall rootimgdir kerneldir "
                   "nodebootif otherifce netdrivers kernelver krpmver permission dump "
                   "crashkernelsize partitionfile driverupdatesrc"),
    "ipmi": ("node", "node bmc bmcport taggedvlan bmcid username password"),
    "eventlog": ("recid", "recid eventtime eventtype monitor monnode node application "
                 "component id severity message rawdata"),
}

XCATPY_EXTENSIONS = {
    "vm": ["uuid", "maxmem", "autostart"],
    "hypervisor": ["memory", "overhead", "dom0mem", "relocation", "relocationhosts",
                   "maintenance", "cpufeatures"],
}


# Tables xcatpy adds for what xCAT keeps outside its database (dhcpd.leases, zone files).
XCATPY_TABLES = {"dhcpreservation", "dhcplease", "dnsrecord", "migrationjournal"}


def test_exactly_the_designed_tables():
    assert set(TABLES) == set(XCAT_TABLES) | XCATPY_TABLES


@pytest.mark.parametrize("name", sorted(XCATPY_TABLES))
def test_xcatpy_tables_say_they_are_extensions(name):
    assert table(name).description.startswith("(xcatpy extension)")


@pytest.mark.parametrize("name", sorted(XCAT_TABLES))
def test_keys_and_column_order_follow_xcat(name):
    keys, cols = XCAT_TABLES[name]
    tab = table(name)
    assert tab.keys == tuple(keys.split())
    expected = cols.split() + XCATPY_EXTENSIONS.get(name, []) + ["comments", "disable"]
    assert tab.colnames == expected


@pytest.mark.parametrize("name", sorted(XCAT_TABLES))
def test_every_table_and_column_is_described_and_extensions_say_so(name):
    tab = table(name)
    assert tab.description.strip()
    for col in tab.columns:
        assert col.description.strip(), f"{name}.{col.name}"
        marked = col.description.startswith("(xcatpy extension) ")
        assert marked == col.extension == (col.name in XCATPY_EXTENSIONS.get(name, []))


def test_descriptions_use_xcat_text():
    assert table("nodehm").column("consoleenabled").description.startswith(
        "A flag field to indicate whether the node is registered in the console server.")
    assert table("policy").description.endswith(
        "It is sorted on the priority field before evaluating.")
    assert table("site").column("disable").description == (
        "Set to 'yes' or '1' to comment out this row.")


@pytest.mark.parametrize("module", [images, network, nodes, site, virt])
def test_table_modules_stay_small(module):
    assert len(Path(module.__file__).read_text().splitlines()) < 600


# -- defaults ----------------------------------------------------------------------------

HEAD = defaults.HeadNode("mn1", "10.0.0.1", "cluster.example", "Europe/Berlin",
                         ("192.0.2.53", "192.0.2.54"))

# The keys xcatconfig writes on Linux (DB2-only db2installloc/databaseloc left out).
XCATCONFIG_SITE_KEYS = (
    "blademaxp domain fsptimeout installdir ipmimaxp ipmiretries ipmitimeout "
    "consoleondemand master forwarders nameservers maxssh ppcmaxp ppcretry ppctimeout "
    "powerinterval syspowerinterval sharedtftp SNsyncfiledir nodesyncfiledir tftpdir "
    "xcatdport xcatiport xcatconfdir timezone useNmapfromMN enableASMI sshbetweennodes "
    "dnshandler vsftp cleanupxcatpost dhcplease auditnosyslog xcatsslversion").split()


def _site(state_dir: Path, head=HEAD) -> dict[str, str]:
    rows = defaults.site_rows(state_dir, head)
    assert len({r["key"] for r in rows}) == len(rows)
    return {r["key"]: r["value"] for r in rows}


def test_site_defaults_cover_xcatconfig(tmp_path):
    assert set(XCATCONFIG_SITE_KEYS) <= set(_site(tmp_path))


def test_site_defaults_use_the_head_node_facts(tmp_path):
    site_ = _site(tmp_path)
    assert site_["master"] == site_["nameservers"] == "10.0.0.1"
    assert site_["domain"] == "cluster.example"
    assert site_["timezone"] == "Europe/Berlin"
    assert site_["forwarders"] == "192.0.2.53,192.0.2.54"
    assert (site_["xcatdport"], site_["xcatiport"], site_["dhcplease"]) == (
        "3001", "3002", "43200")


def test_site_paths_live_in_the_state_dir(tmp_path):
    site_ = _site(tmp_path)
    for key, sub in [("installdir", "install"), ("tftpdir", "tftpboot"),
                     ("xcatconfdir", "etc"), ("SNsyncfiledir", "syncfiles")]:
        assert site_[key] == str(tmp_path / sub)


def test_forwarders_row_only_when_there_are_forwarders(tmp_path):
    head = defaults.HeadNode("mn1", "10.0.0.1", "c", "UTC", ())
    assert "forwarders" not in _site(tmp_path, head)


def test_policy_trusts_the_head_node_and_lets_nodes_ask_about_themselves():
    rows = {r["priority"]: r for r in defaults.policy_rows(HEAD)}
    assert rows["1"]["name"] == "root" and rows["1"]["rule"] == "allow"
    assert rows["1.2"]["name"] == "mn1" and rows["1.2"]["rule"] == "trusted"
    assert rows["4.4"]["commands"] == "getpostscript"
    assert all(set(r) <= set(table("policy").colnames) for r in rows.values())


def test_postscripts_defaults_as_xcatconfig():
    rows = {r["node"]: r for r in defaults.postscripts_rows()}
    assert rows["xcatdefaults"]["postscripts"] == "syslog,remoteshell,syncfiles"
    assert rows["xcatdefaults"]["postbootscripts"] == "otherpkgs"
    assert rows["service"]["postscripts"] == "servicenode"


def test_head_node_discovers_this_machine():
    head = defaults.head_node()
    assert head.hostname and head.master and head.timezone
    assert all(isinstance(f, str) and f for f in head.forwarders)


def test_a_new_database_is_seeded_with_the_defaults(run, state_dir):
    dump = run("tabdump", "site")
    assert dump.rc == 0
    assert f'"installdir","{state_dir / "install"}",,' in dump.out
    assert any(line.startswith('"master",') for line in dump.out)
    assert '"service","servicenode",,,' in run("tabdump", "postscripts").out


# -- conf/site.csv and conf/policy.csv ---------------------------------------------------

@pytest.mark.parametrize("name", ["site.csv", "policy.csv"])
def test_conf_files_match_the_embedded_defaults(name):
    committed = (CONF_DIR / name).read_text()
    assert committed == render()[name], (
        f"conf/{name} is stale: run `python -m tests.gen_default_conf`")


def test_conf_files_are_restorable_dumps():
    parsed = csvformat.parse(render()["site.csv"], "site.csv", table("site"))
    values = {r.values["key"]: r.values["value"] for r in parsed.records}
    assert values["master"] == "<master>"
    assert values["tftpdir"] == "/var/lib/xcatpy/tftpboot"
