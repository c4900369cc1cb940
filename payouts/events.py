"""Events payouts publishes for apps above it (analytics) without importing them."""

from django.dispatch import Signal

# kwargs: commission — a commission whose status changed outside the conversion flow (a
# manager's review); sent after commit.
commission_reviewed = Signal()
