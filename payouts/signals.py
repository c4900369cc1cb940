"""The signals payouts sends to apps above it (analytics, notices), which subscribe in their
receivers.py; payouts imports none of them."""

from django.dispatch import Signal

# kwargs: commission — a commission whose status changed outside the conversion flow (a
# manager's review); sent after commit.
commission_reviewed = Signal()
# kwargs: tenant (the program, so that a receiver needs no query for it), tenant_id,
# commission_ids, partner_ids — commissions just priced for a conversion
# (not those of a conversions import); sent after commit.
commissions_created = Signal()
# kwargs: tenant_id, line_ids — payout lines the bank paid (marked paid); sent after commit.
payouts_paid = Signal()
# kwargs: tenant_id, line_ids — payout lines the bank could not pay, each with its reason; sent
# after commit.
payouts_failed = Signal()
# kwargs: tenant_id, partner_id, details_id — a partner's payout details were saved (a new row:
# the first details too); sent after commit.
payout_details_changed = Signal()
