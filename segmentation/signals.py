from django.dispatch import Signal

# ``segment.changed``: sent after a recompute commits, once per run that moved anyone, with
# ``tenant``, ``run`` (the SegmentRun) and ``transitions``: a list of
# ``(partner_id, from_segment, to_segment)`` tuples ("" = no segment). Campaigns and webhooks
# subscribe; segmentation imports neither.
segment_changed = Signal()
