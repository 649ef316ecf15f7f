{{/* Common names and labels. */}}
{{- define "pizza.fullname" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* app.kubernetes.io/component is the service (login, menu, order, payment; web): the
       ServiceMonitors take a series' `job` from it. Not in the selector: selectors are immutable. */}}
{{- define "pizza.labels" -}}
app.kubernetes.io/name: pizza-{{ .name }}
app.kubernetes.io/component: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: pizza
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "pizza.selector" -}}
app.kubernetes.io/name: pizza-{{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "pizza.image" -}}
{{- printf "%s/pizza-%s:%s" .root.Values.image.registry .name (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}

{{- define "pizza.secretName" -}}
{{- if .Values.secrets.create -}}{{ printf "%s-secrets" .Release.Name }}{{- else -}}{{ required "secrets.existingSecret is required when secrets.create is false" .Values.secrets.existingSecret }}{{- end -}}
{{- end -}}

{{/* The restricted Pod Security Standard, for pods and containers. */}}
{{- define "pizza.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "pizza.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Database connection env of a service: its own role and password. */}}
{{- define "pizza.dbEnv" -}}
- name: DB_HOST
  value: {{ .root.Values.postgres.host | quote }}
- name: DB_PORT
  value: {{ .root.Values.postgres.port | quote }}
- name: DB_NAME
  value: {{ .root.Values.postgres.database | quote }}
- name: DB_USER
  value: {{ printf "%s_svc" .name | quote }}
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "pizza.secretName" .root }}
      key: {{ printf "%s-db-password" .name }}
{{- end -}}
