from django.conf import settings


def site(request):
    return {"signup_mode": settings.SIGNUP}
