from django.apps import AppConfig


class CommentsConfig(AppConfig):
    name = "commonroom.comments"
    label = "comments"
    verbose_name = "Comments"
