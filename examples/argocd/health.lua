-- Argo CD health check for shardcast.dev/ShardSet and
-- shardcast.dev/MigrationPolicy: one script for both kinds (it reads
-- obj.kind). Install it under both resource.customizations.health.shardcast.dev_ShardSet
-- and resource.customizations.health.shardcast.dev_MigrationPolicy in argocd-cm
-- (see README.md). Written for Argo CD's Lua 5.1 (gopher-lua); also runs on
-- Lua 5.4 (tests/examples/argocd_health_test.sh).
--
-- Both kinds:
--   Progressing  no status yet, or metadata.generation ahead of
--                status.observedGeneration (spec change not seen yet)
--   Degraded     condition Stalled=True (cannot progress without a change)
-- ShardSet:
--   Degraded     condition Degraded=True
--   Progressing  condition Progressing=True (a move, promotion or scale runs)
--   Healthy      condition Ready=True
--   Progressing  otherwise (waiting for Ready)
-- MigrationPolicy:
--   Degraded     for statuses written before Stalled existed: Ready=False
--                with reason InvalidSpec, or Blocked=True
--   Progressing  condition Reconciling=True
--   Healthy      condition Ready=True (a pending proposal is named in the
--                message)
--   Progressing  otherwise (e.g. Ready=False: no ShardSet selected yet)
local hs = {}

local function condition(status, ctype)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local function verdict(state, c, fallback)
  hs.status = state
  if c ~= nil then
    hs.message = describe(c, fallback)
  else
    hs.message = fallback
  end
  return hs
end

local function is_true(c)
  return c ~= nil and c.status == "True"
end

local policy = obj.kind == "MigrationPolicy"
local kind = "ShardSet"
if policy then
  kind = "MigrationPolicy"
end
local status = obj.status
local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end

if status == nil or (policy and status.conditions == nil) then
  return verdict("Progressing", nil, "Waiting for the operator to report status")
end

local observed = status.observedGeneration
if observed == nil or observed < generation then
  return verdict("Progressing", nil,
    string.format("Waiting for the operator to observe generation %d (observed %d)",
      generation, observed or 0))
end

local stalled = condition(status, "Stalled")
local ready = condition(status, "Ready")
if is_true(stalled) then
  if policy then
    return verdict("Degraded", stalled, "MigrationPolicy cannot act")
  end
  return verdict("Degraded", stalled, "ShardSet cannot progress")
end

if policy then
  local blocked = condition(status, "Blocked")
  if stalled == nil and ready ~= nil and ready.status == "False" and ready.reason == "InvalidSpec" then
    return verdict("Degraded", ready, "Invalid spec")
  end
  if stalled == nil and is_true(blocked) then
    return verdict("Degraded", blocked, "MigrationPolicy is blocked")
  end
  local reconciling = condition(status, "Reconciling")
  if is_true(reconciling) then
    return verdict("Progressing", reconciling, "MigrationPolicy is being applied")
  end
  if is_true(ready) then
    verdict("Healthy", ready, "MigrationPolicy is applied")
    if status.proposal ~= nil and status.proposal.id ~= nil then
      hs.message = hs.message .. "; proposal " .. status.proposal.id ..
        " waits for approval (annotation shardcast.dev/approve)"
    end
    return hs
  end
else
  local degraded = condition(status, "Degraded")
  if is_true(degraded) then
    return verdict("Degraded", degraded, "ShardSet is degraded")
  end
  local progressing = condition(status, "Progressing")
  if is_true(progressing) then
    return verdict("Progressing", progressing, "ShardSet is changing")
  end
  if is_true(ready) then
    return verdict("Healthy", ready, "ShardSet is ready")
  end
end

return verdict("Progressing", ready, "Waiting for the " .. kind .. " to become ready")
