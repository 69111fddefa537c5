from django import forms

from core.forms import parse_tags

# Common Azure ML VM sizes, suggested in the size field (any text is accepted: the size is recorded).
COMMON_SIZES = [
    ("Standard_DS3_v2", "4 cores, 14 GB RAM, 28 GB disk (general purpose)"),
    ("Standard_DS11_v2", "2 cores, 14 GB RAM, 28 GB disk (memory optimized)"),
    ("Standard_DS12_v2", "4 cores, 28 GB RAM, 56 GB disk (memory optimized)"),
    ("Standard_D4s_v3", "4 cores, 16 GB RAM, 32 GB disk"),
    ("Standard_D8s_v3", "8 cores, 32 GB RAM, 64 GB disk"),
    ("Standard_D13_v2", "8 cores, 56 GB RAM, 400 GB disk"),
    ("Standard_E4s_v3", "4 cores, 32 GB RAM, 64 GB disk"),
    ("Standard_F4s_v2", "4 cores, 8 GB RAM, 32 GB disk (compute optimized)"),
    ("Standard_NC6s_v3", "6 cores, 112 GB RAM, 1 x V100 GPU"),
    ("Standard_NC4as_T4_v3", "4 cores, 28 GB RAM, 1 x T4 GPU"),
    ("Standard_NC24ads_A100_v4", "24 cores, 220 GB RAM, 1 x A100 GPU"),
]


class ScaleForm(forms.Form):
    min_instances = forms.IntegerField(
        min_value=0,
        max_value=100,
        initial=0,
        label="Minimum number of nodes",
        help_text="Nodes kept running when idle.",
    )
    max_instances = forms.IntegerField(
        min_value=1,
        max_value=100,
        initial=2,
        label="Maximum number of nodes",
        help_text="Jobs run in parallel up to it.",
    )
    idle_time_before_scale_down = forms.IntegerField(
        min_value=0,
        initial=120,
        label="Idle seconds before scale down",
        help_text="A node idle for longer stops (down to the minimum).",
    )


class ClusterForm(ScaleForm):
    name = forms.CharField(
        max_length=24, label="Compute name", help_text="2 to 24 letters, digits and hyphens, starting with a letter."
    )
    size = forms.CharField(
        max_length=100,
        initial="Standard_DS3_v2",
        label="Virtual machine size",
        widget=forms.TextInput(attrs={"list": "vm-sizes", "autocomplete": "off"}),
        help_text="Recorded as Azure ML's VM size; nodes run as worker processes on the studio's hosts.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    tags = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "team=fraud"}),
        help_text="One name=value per line.",
    )

    field_order = ["name", "size", "min_instances", "max_instances", "idle_time_before_scale_down"]

    def clean_tags(self):
        try:
            return parse_tags(self.cleaned_data.get("tags", ""))
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
