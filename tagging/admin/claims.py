""" "This is me" requests, and the "not this person" answers."""

from django.contrib import admin, messages

from tagging.admin.base import VisibleAdmin
from tagging.errors import ActionRefused
from tagging.models import Face, FaceRejection, Person, PersonClaim
from tagging.services import privacy


@admin.register(FaceRejection)
class FaceRejectionAdmin(VisibleAdmin):
    list_display = ["face", "person", "rejected_by", "created_at"]
    raw_id_fields = ["face", "person", "rejected_by"]

    def visible(self, request):
        return FaceRejection.objects.filter(
            face__in=Face.objects.visible_to(request.user),
            person__in=Person.objects.visible_to(request.user),
        )


@admin.register(PersonClaim)
class PersonClaimAdmin(VisibleAdmin):
    """ "This is me" requests. Decided through the service (which links and logs), not edited."""

    list_display = ["user", "person", "status", "created_at", "decided_by"]
    list_filter = ["status"]
    list_select_related = ["user", "person", "decided_by"]
    actions = ["approve", "refuse"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, approve: bool):
        done = 0
        for claim in queryset.filter(status=PersonClaim.Status.PENDING):
            try:
                privacy.claim_decide(claim=claim, approve=approve, actor=request.user)
                done += 1
            except ActionRefused as error:
                self.message_user(request, f"{claim.user}: {error}", messages.WARNING)
        self.message_user(request, f"{done} {'approved' if approve else 'refused'}.", messages.SUCCESS)

    @admin.action(permissions=["view"], description="Approve: link each member to the person")
    def approve(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(permissions=["view"], description="Refuse")
    def refuse(self, request, queryset):
        self._decide(request, queryset, approve=False)
