from django import forms
from django.contrib.auth.forms import UserCreationForm

from tagging.models import Album


class AlbumForm(forms.ModelForm):
    class Meta:
        model = Album
        fields = ["title", "visibility", "share_location"]
        widgets = {"visibility": forms.RadioSelect}
        labels = {"share_location": "Share where photos were taken"}


class NameForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)


class SignupForm(UserCreationForm):
    pass
