from django.dispatch import Signal

# Sent after a program is created, with ``tenant``. Higher apps subscribe (default playbooks,
# default commission rules) so that tenancy imports none of them.
tenant_created = Signal()
