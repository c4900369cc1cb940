from django.urls import path

from payouts import cabinet, views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("commission-rules/", views.commission_rule_list, name="commission_rule_list"),
    path("commission-rules/new/", views.commission_rule_create, name="commission_rule_create"),
    path(
        "commission-rules/<int:commissionrule_id>/",
        views.commission_rule_edit,
        name="commission_rule_edit",
    ),
    path(
        "commission-rules/<int:commissionrule_id>/deactivate/",
        views.commission_rule_deactivate,
        name="commission_rule_deactivate",
    ),
    path("conversions/", views.conversion_list, name="conversion_list"),
    path("commissions/review/", views.commission_review_queue, name="commission_review_queue"),
    path(
        "commissions/<int:commission_id>/review/", views.commission_review, name="commission_review"
    ),
    path("partners/<int:partner_id>/money/", views.partner_money, name="partner_money"),
    path("payouts/", views.payout_batch_list, name="payout_batch_list"),
    path("payouts/settings/", views.payout_settings, name="payout_settings"),
    path("payouts/batches/new/", views.payout_batch_create, name="payout_batch_create"),
    path(
        "payouts/batches/<int:payoutbatch_id>/",
        views.payout_batch_detail,
        name="payout_batch_detail",
    ),
    path(
        "payouts/batches/<int:payoutbatch_id>/mark-remaining-paid/",
        views.payout_batch_mark_remaining,
        name="payout_batch_mark_remaining",
    ),
    path(
        "payouts/batches/<int:payoutbatch_id>/approve/",
        views.payout_batch_approve,
        name="payout_batch_approve",
    ),
    path(
        "payouts/batches/<int:payoutbatch_id>/register.csv",
        views.payout_batch_export,
        {"fmt": "csv"},
        name="payout_batch_export_csv",
    ),
    path(
        "payouts/batches/<int:payoutbatch_id>/register.xlsx",
        views.payout_batch_export,
        {"fmt": "xlsx"},
        name="payout_batch_export_xlsx",
    ),
    path(
        "payouts/batches/<int:payoutbatch_id>/sepa.xml",
        views.payout_batch_sepa_file,
        name="payout_batch_sepa_file",
    ),
    path(
        "payouts/batches/<int:payoutbatch_id>/results/",
        views.payout_batch_results,
        name="payout_batch_results",
    ),
    path(
        "payouts/lines/<int:payoutline_id>/exclude/",
        views.payout_line_exclude,
        name="payout_line_exclude",
    ),
    path(
        "payouts/lines/<int:payoutline_id>/confirm/",
        views.payout_line_confirm,
        name="payout_line_confirm",
    ),
    path(
        "payouts/lines/<int:payoutline_id>/paid/", views.payout_line_paid, name="payout_line_paid"
    ),
    path(
        "payouts/lines/<int:payoutline_id>/failed/",
        views.payout_line_failed,
        name="payout_line_failed",
    ),
    path(
        "payouts/lines/<int:payoutline_id>/statement/",
        views.payout_line_statement,
        name="payout_line_statement",
    ),
]

# Mounted under /p/<slug:tenant_slug>/
cabinet_urlpatterns = [
    path("earnings/", cabinet.cabinet_earnings, name="cabinet_earnings"),
    path("payouts/", cabinet.cabinet_payouts, name="cabinet_payouts"),
    path("recruits/", cabinet.cabinet_recruits, name="cabinet_recruits"),
    path("payouts/details/", cabinet.cabinet_payout_details, name="cabinet_payout_details"),
    path("payouts/request/", cabinet.cabinet_payout_request, name="cabinet_payout_request"),
    path(
        "payouts/<int:payoutline_id>/",
        cabinet.cabinet_payout_statement,
        name="cabinet_payout_statement",
    ),
]
