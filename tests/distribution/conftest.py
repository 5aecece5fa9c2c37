from tests.models.conftest import batch  # noqa: F401
