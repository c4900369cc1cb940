"""The signals onboarding sends to apps above it (campaigns), which subscribe in their
receivers.py; onboarding imports none of them."""

from django.dispatch import Signal

# kwargs: tenant_id, item (an onboarding.models.Item value), partner_ids — partners who just did
# that first step (each partner once per item); sent after commit.
item_done = Signal()
