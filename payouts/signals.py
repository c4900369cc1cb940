"""The signals payouts sends to apps above it (analytics), which subscribe in their
receivers.py; payouts imports none of them."""

from django.dispatch import Signal

# kwargs: commission — a commission whose status changed outside the conversion flow (a
# manager's review); sent after commit.
commission_reviewed = Signal()
