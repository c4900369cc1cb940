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
