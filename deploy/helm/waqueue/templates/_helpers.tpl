{{/*
Names. Kubernetes names are at most 63 characters where they end up in
labels or DNS, hence the truncation.
*/}}
{{- define "waqueue.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "waqueue.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A name for one component: <fullname>-<suffix>, within 63 characters. */}}
{{- define "waqueue.componentName" -}}
{{- $suffix := index . 1 -}}
{{- printf "%s-%s" (include "waqueue.fullname" (index . 0) | trunc (int (sub 62 (len $suffix)))) $suffix | trimSuffix "-" -}}
{{- end -}}

{{- define "waqueue.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels. The selector labels never change over the life of a release: a
Deployment's selector is immutable. Call with (list $ "component").
*/}}
{{- define "waqueue.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "waqueue.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "waqueue.labels" -}}
{{- $ := index . 0 -}}
helm.sh/chart: {{ include "waqueue.chart" $ }}
{{ include "waqueue.selectorLabels" . }}
app.kubernetes.io/version: {{ include "waqueue.imageTag" $ | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
app.kubernetes.io/part-of: waqueue
{{- end -}}

{{- define "waqueue.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "waqueue.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Images: a digest pins the image and wins over the tag. */}}
{{- define "waqueue.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "waqueue.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "waqueue.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{- define "waqueue.asynqmonImage" -}}
{{- $i := .Values.asynqmon.image -}}
{{- if $i.digest -}}
{{- printf "%s@%s" $i.repository $i.digest -}}
{{- else -}}
{{- printf "%s:%s" $i.repository $i.tag -}}
{{- end -}}
{{- end -}}

{{/*
A setting's value as the worker reads it. Helm reads every number of a
values file as a float, which would print 1000000 as 1e+06: whole numbers
are printed as integers.
*/}}
{{- define "waqueue.settingString" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/*
The ConfigMap's data: the settings that are set; null and "" leave the
worker's default.
*/}}
{{- define "waqueue.configData" -}}
{{- $d := dict -}}
{{- range $k, $v := .Values.config -}}
{{- if and (not (kindIs "invalid" $v)) (ne (toString $v) "") -}}
{{- $_ := set $d $k (include "waqueue.settingString" $v) -}}
{{- end -}}
{{- end -}}
{{- toYaml $d -}}
{{- end -}}

{{/* The port the worker listens on, from HTTP_ADDR (":8080"). */}}
{{- define "waqueue.httpPort" -}}
{{- regexFind "[0-9]+$" (toString .Values.config.HTTP_ADDR) | atoi -}}
{{- end -}}

{{/*
SHUTDOWN_TIMEOUT in seconds. The schema allows only hours, minutes and
seconds ("1m30s"), the part of Go's duration syntax a template can add up.
*/}}
{{- define "waqueue.shutdownSeconds" -}}
{{- $d := toString .Values.config.SHUTDOWN_TIMEOUT -}}
{{- $h := regexFind "[0-9]+h" $d | trimSuffix "h" | default "0" | atoi -}}
{{- $m := regexFind "[0-9]+m" $d | trimSuffix "m" | default "0" | atoi -}}
{{- $s := regexFind "[0-9]+s" $d | trimSuffix "s" | default "0" | atoi -}}
{{- add (mul $h 3600) (mul $m 60) $s -}}
{{- end -}}

{{/*
The longest a worker may take to stop once its pod is deleted: the preStop
sleep, then SIGTERM, SHUTDOWN_TIMEOUT for in-flight sends, and the 5 s the
worker gives open HTTP requests afterwards (worker.Run).
*/}}
{{- define "waqueue.drainSeconds" -}}
{{- add .Values.worker.preStopSleepSeconds (include "waqueue.shutdownSeconds" . | atoi) 5 -}}
{{- end -}}

{{- define "waqueue.terminationGracePeriodSeconds" -}}
{{- $drain := include "waqueue.drainSeconds" . | atoi -}}
{{- $set := .Values.worker.terminationGracePeriodSeconds -}}
{{- if kindIs "invalid" $set -}}
{{- add $drain .Values.worker.terminationGraceMarginSeconds -}}
{{- else if le (int $set) $drain -}}
{{- fail (printf "worker.terminationGracePeriodSeconds is %d but the worker may need %ds to stop (preStopSleepSeconds %d + SHUTDOWN_TIMEOUT %s + 5s for open HTTP requests): raise it above %d, or set it to null to have it computed" (int $set) $drain (int .Values.worker.preStopSleepSeconds) (toString .Values.config.SHUTDOWN_TIMEOUT) $drain) -}}
{{- else -}}
{{- int $set -}}
{{- end -}}
{{- end -}}

{{/*
The Secret the credentials come from, and the keys it holds: the non-empty
secrets.values of the chart's Secret, or secrets.existingSecretKeys.
*/}}
{{- define "waqueue.secretName" -}}
{{- default (include "waqueue.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "waqueue.secretKeys" -}}
{{- $keys := list -}}
{{- if .Values.secrets.existingSecret -}}
{{- $keys = .Values.secrets.existingSecretKeys -}}
{{- else -}}
{{- range $k, $v := .Values.secrets.values -}}
{{- if $v -}}{{- $keys = append $keys $k -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $keys | sortAlpha | toJson -}}
{{- end -}}

{{/* Checks across values that the schema cannot express. */}}
{{- define "waqueue.validate" -}}
{{- if .Values.secrets.existingSecret -}}
{{- range $k, $v := .Values.secrets.values -}}
{{- if and $v (ne $k "REDIS_URL") -}}
{{- fail (printf "secrets.values.%s is set, but secrets.existingSecret %q is used instead: put the value in that Secret and leave secrets.values empty" $k $.Values.secrets.existingSecret) -}}
{{- end -}}
{{- end -}}
{{- else if not .Values.secrets.values.REDIS_URL -}}
{{- fail "secrets.values.REDIS_URL is empty: the worker needs the URL of its Redis (or use secrets.existingSecret)" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (not .Values.autoscaling.cpu.enabled) (not .Values.autoscaling.queueDepth.enabled) -}}
{{- fail "autoscaling.enabled needs autoscaling.cpu.enabled or autoscaling.queueDepth.enabled" -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) -}}
{{- fail "ingress.enabled needs ingress.host: the public host name of the callback URL" -}}
{{- end -}}
{{- if .Values.enqueuer.enabled -}}
{{- $f := .Values.enqueuer.file -}}
{{- $n := 0 -}}
{{- if $f.inline }}{{ $n = add1 $n }}{{ end -}}
{{- if $f.existingConfigMap }}{{ $n = add1 $n }}{{ end -}}
{{- if $f.volume }}{{ $n = add1 $n }}{{ end -}}
{{- if ne (int $n) 1 -}}
{{- fail "enqueuer.file: set exactly one of inline, existingConfigMap and volume" -}}
{{- end -}}
{{- if and (hasSuffix ".csv" (lower $f.name)) (not .Values.enqueuer.templateId) -}}
{{- fail "enqueuer.templateId is required for a CSV campaign file" -}}
{{- end -}}
{{- end -}}
{{- end -}}
