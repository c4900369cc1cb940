from django.dispatch import Signal

# Sent after a program is created, with ``tenant``. Higher apps subscribe (default playbooks,
# default commission rules) so that tenancy imports none of them.
tenant_created = Signal()

# Sent when a program's time zone changes, with ``tenant`` (already saved) and ``previous``
# (the zone's former name), inside the change's transaction. Whatever a higher app keeps by
# local day is now wrong (the analytics rollups): it subscribes and recomputes.
timezone_changed = Signal()

# Sent when a program's home country changes, with ``tenant`` (already saved) and ``previous``
# (the former ISO 3166 code), inside the change's transaction: the partners' geography tiers are
# relative to it (partners recomputes them).
country_changed = Signal()
