"""What happened, kept for the admin to read afterwards (xCAT's Schema.pm keys and text)."""

from xcatpy.db.schema import define

TABLES = [
    define("eventlog", "Stores the events occurred.", "recid", [
        ("recid", "The record id."),
        ("eventtime", "The timestamp for the event."),
        ("eventtype", "The type of the event."),
        ("monitor", "The name of the monitor that monitors this event."),
        ("monnode", "The node that monitors this event."),
        ("node", "The node where the event occurred."),
        ("application", "The application that reports the event."),
        ("component", "The component where the event occurred."),
        ("id", "The location or the resource name where the event occurred."),
        ("severity", "The severity of the event. Valid values are: informational, warning, "
         "critical."),
        ("message", "The full description of the event."),
        ("rawdata", " The data that associated with the event. "),
    ]),
]
