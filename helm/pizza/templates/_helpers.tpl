{{/* Common names and labels. */}}
{{- define "pizza.fullname" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* app.kubernetes.io/component is the service (login, menu, order, payment; web): the
       ServiceMonitors take a series' `job` from it. Not in the selector: selectors are immutable. */}}
{{- define "pizza.labels" -}}
app.kubernetes.io/name: pizza-{{ .name }}
app.kubernetes.io/component: {{ .component | default .name }}
{{ include "pizza.commonLabels" .root }}
{{- end -}}

{{- /* The labels of every object of the release; with root the chart's context. */}}
{{- define "pizza.commonLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: pizza
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pizza.selector" -}}
app.kubernetes.io/name: pizza-{{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- /* What a Service and a PDB select: the Deployment's pods, not the service's migrate Job
       (same name label, component migrate), which serves nothing. Unlike a Deployment's,
       these selectors may change on upgrade. */}}
{{- define "pizza.servingSelector" -}}
{{ include "pizza.selector" . }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- /* <registry>/pizza-<service>@<digest> when a digest is set, else :<tag>. */}}
{{- define "pizza.image" -}}
{{- $digest := index (.root.Values.image.digests | default dict) .name | default "" -}}
{{- if $digest -}}
{{- printf "%s/pizza-%s@%s" .root.Values.image.registry .name $digest -}}
{{- else -}}
{{- printf "%s/pizza-%s:%s" .root.Values.image.registry .name (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- /* Scheduling, pull secrets and annotations of a pod: ctx with root and svc (a service's
       values, or an empty dict for the web client and the hooks). */}}
{{- define "pizza.podScheduling" -}}
{{- $v := .root.Values -}}
{{- with $v.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- /* A service's own value, even an empty one, replaces the global. */}}
{{- range $k := list "nodeSelector" "tolerations" "affinity" }}
{{- with ternary (get $.svc $k) (get $v $k) (hasKey $.svc $k) }}
{{ $k }}:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "pizza.podAnnotations" -}}
{{- $a := merge (dict) ((get .svc "podAnnotations") | default dict) (.root.Values.podAnnotations | default dict) -}}
{{- with $a }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{- /* NetworkPolicy peers of an egress value (namespaceLabels, podLabels, cidrs); what names
       it, for the error. */}}
{{- define "pizza.egressPeers" -}}
{{- $e := .egress -}}
{{- $peers := list -}}
{{- if or (get $e "namespaceLabels") (get $e "podLabels") -}}
{{- $p := dict -}}
{{- with $e.namespaceLabels }}{{ $_ := set $p "namespaceSelector" (dict "matchLabels" .) }}{{ end -}}
{{- with $e.podLabels }}{{ $_ := set $p "podSelector" (dict "matchLabels" .) }}{{ end -}}
{{- $peers = append $peers $p -}}
{{- end -}}
{{- range (get $e "cidrs") }}{{ $peers = append $peers (dict "ipBlock" (dict "cidr" .)) }}{{ end -}}
{{- if not $peers }}{{ fail (printf "%s.egress: set namespaceLabels and/or podLabels, or cidrs" .what) }}{{ end -}}
{{- toYaml $peers -}}
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

{{/* Database connection env of a service (ctx: root, name): its own role and password, or
     its credentials Secret; host, port and database from values or postgres.existingSecret;
     TLS. */}}
{{- define "pizza.dbEnv" -}}
{{- $pg := .root.Values.postgres -}}
{{- $cred := index $pg.credentials .name -}}
{{- if and $cred.uriKey (not $cred.existingSecret) }}{{ fail (printf "postgres.credentials.%s.uriKey needs postgres.credentials.%s.existingSecret" .name .name) }}{{ end }}
{{- if and $cred.existingSecret $cred.uriKey }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $cred.existingSecret }}, key: {{ $cred.uriKey }}}
{{- else }}
{{- include "pizza.dbLocation" (dict "root" .root "prefix" "DB_") }}
{{- if $cred.existingSecret }}
- name: DB_USER
  valueFrom:
    secretKeyRef: {name: {{ $cred.existingSecret }}, key: {{ $cred.usernameKey }}}
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $cred.existingSecret }}, key: {{ $cred.passwordKey }}}
{{- else }}
- name: DB_USER
  value: {{ printf "%s_svc" .name | quote }}
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "pizza.secretName" .root }}
      key: {{ printf "%s-db-password" .name }}
{{- end }}
{{- end }}
{{- with $pg.sslMode }}
- name: DB_SSLMODE
  value: {{ . | quote }}
{{- end }}
{{- if $pg.ca.secretName }}
- name: DB_SSLROOTCERT
  value: {{ printf "/etc/pizza/postgres-ca/%s" $pg.ca.key | quote }}
{{- end }}
{{- end -}}

{{- /* Host, port and database as <prefix>HOST, <prefix>PORT and DB_NAME-like names: the
       services' DB_HOST/DB_PORT/DB_NAME, or libpq's PGHOST/PGPORT/PGDATABASE for the
       bootstrap. */}}
{{- define "pizza.dbLocation" -}}
{{- $pg := .root.Values.postgres -}}
{{- $names := dict "host" (printf "%sHOST" .prefix) "port" (printf "%sPORT" .prefix) "database" (ternary "PGDATABASE" "DB_NAME" (eq .prefix "PG")) -}}
{{- range $k := list "host" "port" "database" }}
- name: {{ index $names $k }}
{{- if $pg.existingSecret }}
  valueFrom:
    secretKeyRef: {name: {{ $pg.existingSecret }}, key: {{ index $pg.secretKeys $k }}}
{{- else }}
  value: {{ index $pg $k | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- /* NATS credentials and TLS env of a service (ctx: root, name). */}}
{{- define "pizza.natsEnv" -}}
{{- $n := .root.Values.nats -}}
{{- if eq $n.auth.mode "credentials" }}
- name: NATS_CREDS_FILE
  value: {{ printf "/etc/pizza/nats-auth/%s.creds" .name | quote }}
{{- else if eq $n.auth.mode "nkey" }}
- name: NATS_NKEY_FILE
  value: {{ printf "/etc/pizza/nats-auth/%s.nk" .name | quote }}
{{- end }}
{{- if or $n.tls.enabled (contains "tls://" $n.url) }}
- name: NATS_TLS_REQUIRED
  value: "true"
{{- if $n.tls.ca.secretName }}
- name: NATS_TLS_CA_FILE
  value: {{ printf "/etc/pizza/nats-ca/%s" $n.tls.ca.key | quote }}
{{- end }}
{{- if $n.tls.clientSecret }}
- name: NATS_TLS_CERT_FILE
  value: /etc/pizza/nats-client/tls.crt
- name: NATS_TLS_KEY_FILE
  value: /etc/pizza/nats-client/tls.key
{{- end }}
{{- end }}
{{- end -}}

{{- /* The Secret files a pod mounts (ctx: root, name, nats: whether it talks to NATS), as
       "volumes" and "mounts" YAML lists; empty when there are none. */}}
{{- define "pizza.secretFiles" -}}
{{- $pg := .root.Values.postgres -}}
{{- $n := .root.Values.nats -}}
{{- $vols := list -}}
{{- $mounts := list -}}
{{- if $pg.ca.secretName -}}
{{- $vols = append $vols (dict "name" "postgres-ca" "secret" (dict "secretName" $pg.ca.secretName "defaultMode" 288 "items" (list (dict "key" $pg.ca.key "path" $pg.ca.key)))) -}}
{{- $mounts = append $mounts (dict "name" "postgres-ca" "mountPath" "/etc/pizza/postgres-ca" "readOnly" true) -}}
{{- end -}}
{{- if .nats -}}
{{- if ne $n.auth.mode "none" -}}
{{- $file := printf "%s.%s" .name (ternary "creds" "nk" (eq $n.auth.mode "credentials")) -}}
{{- $secret := required "nats.auth.secretName is required with nats.auth.mode credentials or nkey" $n.auth.secretName -}}
{{- $vols = append $vols (dict "name" "nats-auth" "secret" (dict "secretName" $secret "defaultMode" 288 "items" (list (dict "key" $file "path" $file)))) -}}
{{- $mounts = append $mounts (dict "name" "nats-auth" "mountPath" "/etc/pizza/nats-auth" "readOnly" true) -}}
{{- end -}}
{{- $tls := or $n.tls.enabled (contains "tls://" $n.url) -}}
{{- if and $tls $n.tls.ca.secretName -}}
{{- $vols = append $vols (dict "name" "nats-ca" "secret" (dict "secretName" $n.tls.ca.secretName "defaultMode" 288 "items" (list (dict "key" $n.tls.ca.key "path" $n.tls.ca.key)))) -}}
{{- $mounts = append $mounts (dict "name" "nats-ca" "mountPath" "/etc/pizza/nats-ca" "readOnly" true) -}}
{{- end -}}
{{- if and $tls $n.tls.clientSecret -}}
{{- $vols = append $vols (dict "name" "nats-client" "secret" (dict "secretName" $n.tls.clientSecret "defaultMode" 288 "items" (list (dict "key" "tls.crt" "path" "tls.crt") (dict "key" "tls.key" "path" "tls.key")))) -}}
{{- $mounts = append $mounts (dict "name" "nats-client" "mountPath" "/etc/pizza/nats-client" "readOnly" true) -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "volumes" $vols "mounts" $mounts) -}}
{{- end -}}
