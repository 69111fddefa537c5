from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response

from core.access import UserAPIView

from . import selectors, services
from .serializers import TokenCreateSerializer, TokenSerializer, UserCreateSerializer, UserSerializer


class TokenListApi(UserAPIView):
    @extend_schema(responses=TokenSerializer(many=True))
    def get(self, request):
        return Response(TokenSerializer(selectors.tokens_for_user(user=request.user), many=True).data)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenSerializer})
    def post(self, request):
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = services.token_create(user=request.user, name=serializer.validated_data["name"])
        return Response(dict(TokenSerializer(token).data, token=raw), status=status.HTTP_201_CREATED)


class TokenDetailApi(UserAPIView):
    @extend_schema(responses={204: None})
    def delete(self, request, token_id: int):
        token = selectors.token_for_user(user=request.user, token_id=token_id)
        if token is None:
            raise Http404("No such token.")
        services.token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IsStudioAdmin(permissions.BasePermission):
    message = "Only studio administrators can do this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_superuser)


class UserListApi(UserAPIView):
    permission_classes = [permissions.IsAuthenticated, IsStudioAdmin]

    @extend_schema(responses=UserSerializer(many=True))
    def get(self, request):
        return Response(UserSerializer(get_user_model().objects.order_by("username"), many=True).data)

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def post(self, request):
        serializer = UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_create(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.studio_access = {"scope": "admin"}
        return view
