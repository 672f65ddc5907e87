"""The node database: schema, store, attribute resolution, noderange, object view, formats."""
