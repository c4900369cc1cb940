"""The signals the partners app sends to apps above it (payouts, analytics, campaigns), which
subscribe in their receivers.py; partners imports none of them.

The conversion's two are sent inside the transaction that wrote the conversion or the refund,
so a receiver's writes commit or roll back together with it.
"""

from django.dispatch import Signal

# kwargs: tenant, conversion, click (a Click or None)
conversion_recorded = Signal()
# kwargs: tenant, conversion, refund (a Refund)
conversion_refunded = Signal()
# kwargs: clicks — a list of (tenant_id, created_at) of the clicks just written; sent after commit
clicks_recorded = Signal()
# kwargs: tenant_id, partner_ids — partners just approved for the first time (at sign-up when
# the program approves automatically, or from pending); sent after commit
partner_joined = Signal()
# kwargs: tenant_id, partner_ids — partners who applied and wait for review (created pending);
# sent after commit
partner_applied = Signal()
# kwargs: tenant_id, partner_id, reason — a pending partner turned down; sent after commit
partner_rejected = Signal()
# kwargs: tenant_id, partner_id, link_id, created_at — a partner's referral link was created;
# sent after commit.
link_created = Signal()
# kwargs: clicks — a list of (tenant_id, partner_id, created_at): partners whose first recorded
# click the click-buffer flush (or the redirect while Redis is down) just wrote, each with the
# earliest of those clicks; sent after commit. Two concurrent flushes may both report a partner
# (a receiver that must act once keeps its own conditional write).
first_clicks = Signal()
# kwargs: tenant_id, partner_ids — partners whose profile (contact details, channel, type…)
# was created or saved through the services; sent after commit.
partner_profile_changed = Signal()
