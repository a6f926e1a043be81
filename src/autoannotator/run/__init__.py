"""A run: its configuration (`config`), the checks made before any work (`checks`), the auto choice
(`choice`), one batch labelled (`batch`, whatever the task: its kind is `single` or `sets`), the engines that
read and infer (`engines`), the driver (`pipeline`), the estimate before spending (`planning`) and the output
files (`outputs`)."""
