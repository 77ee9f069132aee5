import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/portal/",
        "/portal/topup/",
        "/portal/topup/return/",
        "/portal/history/",
        "/portal/documents/",
        "/portal/plans/",
        "/portal/profile/",
    ],
)
def test_every_page_answers_the_owner(owner_client, path):
    response = owner_client.get(path)
    assert response.status_code == 200, response.content.decode()[:3000]
