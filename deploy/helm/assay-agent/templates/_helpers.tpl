{{- define "assay-agent.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "assay-agent.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.region }}
assay.dev/region: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "assay-agent.serviceAccountName" -}}
{{- default (include "assay-agent.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}
