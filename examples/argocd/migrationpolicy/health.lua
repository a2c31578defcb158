-- Argo CD health check for shardcast.dev/MigrationPolicy.
-- Install it as resource.customizations.health.shardcast.dev_MigrationPolicy
-- in argocd-cm (see ../README.md). Written for Argo CD's Lua 5.1
-- (gopher-lua); also runs on Lua 5.4 (tests/examples/argocd_health_test.sh).
--
--   Progressing  no status yet, or metadata.generation ahead of
--                status.observedGeneration (spec change not seen yet)
--   Degraded     condition Stalled=True (invalid spec, a window that never
--                opens, a plan blocked by maxReplicas or the warm pool, every
--                ShardSet governed by another policy); for statuses written
--                before Stalled existed: Ready=False with reason InvalidSpec,
--                or Blocked=True
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

local status = obj.status
local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end

if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local observed = status.observedGeneration
if observed == nil or observed < generation then
  hs.status = "Progressing"
  hs.message = string.format("Waiting for the operator to observe generation %d (observed %d)",
    generation, observed or 0)
  return hs
end

local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "MigrationPolicy cannot act")
  return hs
end

local ready = condition(status, "Ready")
local blocked = condition(status, "Blocked")
if stalled == nil then
  if ready ~= nil and ready.status == "False" and ready.reason == "InvalidSpec" then
    hs.status = "Degraded"
    hs.message = describe(ready, "Invalid spec")
    return hs
  end
  if blocked ~= nil and blocked.status == "True" then
    hs.status = "Degraded"
    hs.message = describe(blocked, "MigrationPolicy is blocked")
    return hs
  end
end

local reconciling = condition(status, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling, "MigrationPolicy is being applied")
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "MigrationPolicy is applied")
  if status.proposal ~= nil and status.proposal.id ~= nil then
    hs.message = hs.message .. "; proposal " .. status.proposal.id ..
      " waits for approval (annotation shardcast.dev/approve)"
  end
  return hs
end

hs.status = "Progressing"
if ready ~= nil then
  hs.message = describe(ready, "Waiting for the MigrationPolicy to become ready")
else
  hs.message = "Waiting for the MigrationPolicy to become ready"
end
return hs
