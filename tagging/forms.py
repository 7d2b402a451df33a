from django import forms
from django.contrib.auth.forms import UserCreationForm

from tagging.models import Album


class AlbumForm(forms.ModelForm):
    class Meta:
        model = Album
        fields = ["title", "visibility"]
        widgets = {"visibility": forms.RadioSelect}


class NameForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)


class SignupForm(UserCreationForm):
    pass
