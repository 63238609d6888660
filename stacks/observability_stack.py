"""Observability: one CloudWatch dashboard and the alarms an operator needs, sent to an
encrypted SNS topic (`-c assay:alarmEmail=ops@example.com` subscribes an address).

Alarms: the API functions' errors and throttles, the step functions' throttles, analyses
whose execution failed (a failure the workflow could not record) or timed out, the API's 5xx
rate and p99 latency. Traces come
from X-Ray through Powertools (every function has active tracing), logs are JSON with
correlation ids, and every log group has a retention.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

FIVE_MINUTES = Duration.minutes(5)


class ObservabilityStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigw.RestApi,
        functions: dict[str, lambda_.IFunction],
        steps: dict[str, lambda_.IFunction],
        state_machine: sfn.IStateMachine,
        queue: sqs.IQueue,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        key = kms.Key(
            self,
            "AlarmsKey",
            enable_key_rotation=True,
            description="Assay: encrypts alarm notifications",
        )
        key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))
        self.topic = sns.Topic(
            self, "Alarms", display_name="Assay alarms", master_key=key, enforce_ssl=True
        )
        email = self.node.try_get_context("assay:alarmEmail")
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        notify = actions.SnsAction(self.topic)

        self.alarms: list[cloudwatch.Alarm] = []
        for name, function in functions.items():
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                1,
                f"{name}: invocation errors",
                notify,
            )
            self._alarm(
                f"{name}Throttles",
                function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                1,
                f"{name}: throttled invocations",
                notify,
            )
        # A step's own errors are often an analysis's outcome (a repository in no supported
        # language), reported in its report; throttles and failed executions are not.
        for name, function in steps.items():
            self._alarm(
                f"{name}Throttles",
                function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                1,
                f"{name}: throttled invocations",
                notify,
            )
        failed = state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum")
        self._alarm(
            "AnalysesFailed", failed, 1, "analyses whose failure could not be recorded", notify
        )
        timed_out = state_machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum")
        self._alarm("AnalysesTimedOut", timed_out, 1, "analyses past the 6 h limit", notify)
        waiting = queue.metric_approximate_age_of_oldest_message(
            period=FIVE_MINUTES, statistic="Maximum"
        )
        self._alarm("AnalysesWaiting", waiting, 1800,
                    "an analysis has waited 30 min for a slot (raise the Fargate quota or "
                    "assay:maxRunningAnalyses)", notify)  # fmt: skip
        throttled = state_machine.metric_throttled(period=FIVE_MINUTES, statistic="Sum")
        self._alarm("WorkflowThrottled", throttled, 1, "Step Functions throttled", notify)
        server_errors = api.metric_server_error(period=FIVE_MINUTES, statistic="Sum")
        self._alarm("Api5xx", server_errors, 5, "API: 5xx answers", notify)
        latency = api.metric_latency(period=FIVE_MINUTES, statistic="p99")
        self._alarm("ApiLatencyP99", latency, 5_000, "API: p99 latency over 5 s", notify)

        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name="Assay")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[
                    api.metric_count(period=FIVE_MINUTES),
                    api.metric_client_error(period=FIVE_MINUTES),
                    server_errors,
                ],
            ),
            cloudwatch.GraphWidget(
                title="API latency p50 / p99",
                left=[
                    api.metric_latency(period=FIVE_MINUTES, statistic="p50"),
                    latency,
                ],
            ),
        )
        dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{name}: invocations, errors, throttles",
                    left=[
                        function.metric_invocations(period=FIVE_MINUTES),
                        function.metric_errors(period=FIVE_MINUTES),
                        function.metric_throttles(period=FIVE_MINUTES),
                    ],
                    right=[function.metric_duration(period=FIVE_MINUTES, statistic="p99")],
                )
                for name, function in {**functions, **steps}.items()
            )
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Analyses: started, succeeded, failed, timed out",
                left=[
                    state_machine.metric_started(period=FIVE_MINUTES),
                    state_machine.metric_succeeded(period=FIVE_MINUTES),
                    failed,
                    timed_out,
                ],
                right=[state_machine.metric_time(period=FIVE_MINUTES, statistic="p99")],
            )
        )
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms))
        CfnOutput(self, "AlarmTopicArn", value=self.topic.topic_arn)

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        what: str,
        notify: actions.SnsAction,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Assay: {what}",
        )
        alarm.add_alarm_action(notify)
        self.alarms.append(alarm)
