from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import ApiToken


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "hint", "created_at", "last_used_at", "revoked_at"]


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=1000, allow_blank=True)


class UserSerializer(serializers.ModelSerializer):
    is_admin = serializers.BooleanField(source="is_superuser", read_only=True)

    class Meta:
        model = get_user_model()
        fields = ["username", "email", "is_admin", "is_active", "date_joined"]


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, allow_blank=True)
    email = serializers.EmailField(required=False, default="", allow_blank=True)
    password = serializers.CharField(max_length=1000, write_only=True)
    is_admin = serializers.BooleanField(required=False, default=False)
