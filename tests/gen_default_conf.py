"""Write conf/site.csv and conf/policy.csv: the admin-readable copy of the embedded defaults.

They are xcatpy.db.defaults rendered in tabdump's format for a state directory of
/var/lib/xcatpy, with <master>, <domain>, <hostname>, <timezone> and <forwarders> where
the values depend on the machine. tests/unit/db/test_schema.py fails when they drift;
regenerate them after changing the defaults:

    python -m tests.gen_default_conf
"""

from pathlib import Path

from xcatpy.db import csvformat, defaults
from xcatpy.db.schema import TABLES

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def render() -> dict[str, str]:
    """File name -> contents, exactly as they should be committed."""
    head = defaults.PLACEHOLDERS
    rows = {
        "site": defaults.site_rows(defaults.CONF_STATE_DIR, head),
        "policy": defaults.policy_rows(head),
    }
    return {f"{name}.csv": csvformat.dump(TABLES[name].colnames, r) for name, r in rows.items()}


def main() -> None:
    CONF_DIR.mkdir(exist_ok=True)
    for name, text in render().items():
        (CONF_DIR / name).write_text(text)
        print(CONF_DIR / name)


if __name__ == "__main__":
    main()
