from django.db.models import Count, QuerySet

from partners.models import Partner, PartnerStatus
from tenancy.models import User


def partner_for_user(*, user: User) -> Partner | None:
    if not user.is_authenticated:
        return None
    return Partner.objects.filter(user=user).exclude(status=PartnerStatus.ARCHIVED).first()


def partner_list(*, status: str | None = None, search: str = "") -> QuerySet[Partner]:
    partners = Partner.objects.all()
    if status:
        partners = partners.filter(status=status)
    if search:
        partners = partners.filter(name__icontains=search) | partners.filter(
            email__icontains=search
        )
    return partners.order_by("-joined_at", "-id")


def partner_counts_by_status() -> dict[str, int]:
    counts = dict.fromkeys(PartnerStatus.values, 0)
    for row in Partner.objects.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts
