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


class DrawnFaceForm(NameForm):
    """A box drawn on a photo, relative to the photo as shown (0..1), and its name."""

    x = forms.FloatField(min_value=0, max_value=1)
    y = forms.FloatField(min_value=0, max_value=1)
    w = forms.FloatField(min_value=0, max_value=1)
    h = forms.FloatField(min_value=0, max_value=1)


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional, unless your invitation names one.")

    class Meta(UserCreationForm.Meta):
        fields = ["username", "email"]


class InvitationForm(forms.Form):
    email = forms.EmailField(required=False, help_text="Optional: only this address may then use the link.")
    days = forms.IntegerField(min_value=1, max_value=90, label="Valid for (days)")
