"""The city at a glance (一张图): the leaders' overview and the command centre's big screen."""
