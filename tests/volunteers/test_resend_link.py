"""A coordinator can email an applicant a new set-password link, and only while they need one."""

from __future__ import annotations

from portal.volunteers.models import VolunteerStatus
from tests import factories


def test_applicant_without_password_gets_a_new_link(client, logged_in_coordinator, smtp_server):
    volunteer = factories.make_volunteer(VolunteerStatus.APPLIED, user_kw={"password": None})
    response = client.post(f"/volunteers/{volunteer.id}/invite")
    assert response.status_code == 302
    assert [m["To"] for m in smtp_server.messages] == [volunteer.user.email]
    assert "/invite/" in smtp_server.messages[0].get_body().get_content()
    page = client.get(f"/volunteers/{volunteer.id}").get_data(as_text=True)
    assert "A new link has been emailed" in page


def test_no_link_for_someone_who_has_a_password(client, logged_in_coordinator, smtp_server):
    volunteer = factories.make_volunteer(VolunteerStatus.ACTIVE)
    assert "Email them a new link" not in client.get(f"/volunteers/{volunteer.id}").get_data(
        as_text=True
    )
    client.post(f"/volunteers/{volunteer.id}/invite")
    assert smtp_server.messages == []
