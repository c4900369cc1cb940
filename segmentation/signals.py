from django.dispatch import Signal

# ``segment.changed``: sent after a recompute commits, once per run that moved anyone, with
# ``tenant``, ``run`` (the SegmentRun) and ``transitions``: a list of
# ``(partner_id, from_segment, to_segment)`` tuples ("" = no segment). Campaigns and webhooks
# subscribe; segmentation imports neither.
segment_changed = Signal()

# ``custom_segment.changed``: sent after commit, in the program's tenant scope, once per custom
# segment whose members changed — after each segment run and each save or deletion of a
# custom segment — with ``tenant_id``, ``segment_id`` and ``entered`` / ``left``: lists of
# partner ids, ascending. A new segment's first members all "enter"; a deleted segment's all
# "leave". Campaigns subscribe.
custom_segment_changed = Signal()

# ``policy.counted_kinds changed``: sent inside the policy's save, with ``tenant`` and
# ``previous`` (the kinds counted before), when the conversion kinds that count as results
# change. Whatever a higher app derived from results (the analytics rollups) subscribes.
counted_kinds_changed = Signal()
