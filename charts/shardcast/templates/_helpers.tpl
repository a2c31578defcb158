{{/* Chart name, truncated to the 63 characters labels allow. */}}
{{- define "shardcast.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart> unless the release name already has it. */}}
{{- define "shardcast.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "shardcast.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "shardcast.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shardcast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "shardcast.labels" -}}
helm.sh/chart: {{ include "shardcast.chart" . }}
{{ include "shardcast.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: shardcast
{{- end }}

{{- define "shardcast.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shardcast.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The rules the operator needs in every namespace it watches. */}}
{{- define "shardcast.rules" -}}
# ShardSets: read only; the operator never writes their spec.
- apiGroups: ["shardcast.dev"]
  resources: ["shardsets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["shardcast.dev"]
  resources: ["shardsets/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: ["shardcast.dev"]
  resources: ["migrationpolicies"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["shardcast.dev"]
  resources: ["migrationpolicies/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "delete", "patch"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "update", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["metrics.k8s.io"]
  resources: ["pods"]
  verbs: ["get", "list"]
{{- end }}

{{/* The namespace watched when not cluster-wide (validates the values). */}}
{{- define "shardcast.watchNamespace" -}}
{{- if gt (len .Values.watchNamespaces) 1 }}
{{- fail "watchNamespaces: the operator watches either all namespaces (clusterWide: true) or exactly one namespace" }}
{{- end }}
{{- if and .Values.clusterWide .Values.watchNamespaces }}
{{- fail "watchNamespaces must be empty when clusterWide is true (the operator then watches every namespace)" }}
{{- end }}
{{- if not .Values.clusterWide }}
{{- default .Release.Namespace (first .Values.watchNamespaces) }}
{{- end }}
{{- end }}
