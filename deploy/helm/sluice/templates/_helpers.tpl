{{/* Names and labels shared by every object of the release. */}}

{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "sluice.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "sluice.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The pod selector: stable across upgrades (a DaemonSet selector is immutable). */}}
{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sluice.labels" -}}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sluice.configMapName" -}}
{{- default (printf "%s-config" (include "sluice.fullname" .)) .Values.configMap.existingName -}}
{{- end -}}

{{/* Settings that would make a broken DaemonSet: refuse to render them. */}}
{{- define "sluice.checkValues" -}}
{{- if not (has .Values.configSource (list "kube" "configMap")) -}}
{{- fail (printf "configSource must be kube or configMap, not %q" .Values.configSource) -}}
{{- end -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (int .Values.daemon.drainTimeout) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed daemon.drainTimeout (%v): the kubelet's SIGKILL would cut the drain short" .Values.terminationGracePeriodSeconds .Values.daemon.drainTimeout) -}}
{{- end -}}
{{- end -}}
