"""The ladder listens to the segment runs (connected in LadderConfig.ready)."""

from __future__ import annotations

from django.dispatch import receiver

from ladder.services import level_ups_record
from segmentation.signals import segment_changed


@receiver(segment_changed, dispatch_uid="ladder.segment_changed")
def on_segment_changed(sender, *, tenant, run, transitions, **kwargs) -> None:
    # Sent after the run commits, inside the program's tenant scope.
    level_ups_record(tenant=tenant, run=run, transitions=transitions)
