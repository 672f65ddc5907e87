"""xCAT's tables, grouped by what they describe."""

from xcatpy.db.tables import events, images, network, nodes, site, virt

ALL_TABLES = [*nodes.TABLES, *virt.TABLES, *network.TABLES, *site.TABLES, *images.TABLES,
              *events.TABLES]
