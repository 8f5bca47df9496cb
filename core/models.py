"""What tenant models share."""
from django.db import models
from django.utils import timezone


class AgencyFromParent(models.Model):
    """A tenant row whose agency is its parent's (`agency_parent` names the foreign key): filled in from the
    parent when not given. A composite foreign key (parent id, agency id) in the database checks it."""

    agency_parent: str

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if self.agency_id is None:
            self.agency_id = getattr(self, self.agency_parent).agency_id
        super().save(*args, **kwargs)


class JobRow(models.Model):
    """A row the user watches while a worker does its job (core.jobs): how many times a worker took it,
    until when the worker holding it may keep it, and when its task was last sent to the queue."""

    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, default=timezone.now)

    class Meta:
        abstract = True
