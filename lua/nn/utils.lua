-- nn.utils: gradient clipping and flattening parameters into one vector.
-- `parameters` is a list of tensors (net:parameters()) or a single tensor.
local torch = require 'torch'
local nn = require 'nn'

local utils = nn.utils or {}
nn.utils = utils

local function param_list(parameters, what)
  if torch.isTensor(parameters) then return { parameters } end
  if type(parameters) ~= 'table' then
    error(('%s: expected a tensor or a list of tensors, got %s'):format(what, torch.type(parameters)), 3)
  end
  if nn.is_module(parameters) then
    error(('%s: expected parameters (net:parameters()), got a module'):format(what), 3)
  end
  local res = {}
  for i, p in ipairs(parameters) do
    if not torch.isTensor(p) then
      error(('%s: element %d of parameters is a %s, not a tensor'):format(what, i, torch.type(p)), 3)
    end
    res[i] = p
  end
  return res
end

-- clip_grad_norm_(parameters, max_norm [, {norm_type=2, error_if_nonfinite=false}])
-- scales the gradients so that their joint norm is at most max_norm; returns the
-- norm before clipping (a 0-d tensor)
function utils.clip_grad_norm_(parameters, max_norm, ...)
  local a = nn._args('clip_grad_norm_', { 'norm_type', 'error_if_nonfinite' },
    { norm_type = 2.0, error_if_nonfinite = false }, ...)
  local ps = param_list(parameters, 'clip_grad_norm_')
  if type(max_norm) ~= 'number' then
    error('clip_grad_norm_: max_norm must be a number, got ' .. type(max_norm), 2)
  end
  local nt = a.norm_type
  if nt == 'inf' then nt = math.huge end
  if type(nt) ~= 'number' then error('clip_grad_norm_: norm_type must be a number or "inf"', 2) end
  local grads = {}
  for _, p in ipairs(ps) do
    local g = p.grad
    if g ~= nil then grads[#grads + 1] = g end
  end
  if #grads == 0 then return torch.tensor(0.0) end
  return torch.no_grad(function()
    local norms = {}
    for i, g in ipairs(grads) do
      if nt == math.huge then
        norms[i] = g:detach():abs():max():double()
      else
        norms[i] = g:detach():double():norm(nt)
      end
    end
    local all = torch.stack(norms)
    local total = nt == math.huge and all:max() or all:norm(nt)
    local tv = total:item()
    if a.error_if_nonfinite and (tv ~= tv or tv == math.huge or tv == -math.huge) then
      error(('clip_grad_norm_: the total norm of order %s of the gradients is non-finite (%s), so it cannot be ' ..
        'clipped; pass {error_if_nonfinite=false} to clip anyway'):format(tostring(nt), tostring(tv)), 0)
    end
    local coef = max_norm / (tv + 1e-6)
    if coef < 1 then
      for _, g in ipairs(grads) do g:mul_(coef) end
    end
    return total:to(grads[1].dtype)
  end)
end
utils.clip_grad_norm = utils.clip_grad_norm_

-- clip_grad_value_(parameters, clip_value): clamps every gradient to [-clip_value, clip_value]
function utils.clip_grad_value_(parameters, clip_value)
  local ps = param_list(parameters, 'clip_grad_value_')
  if type(clip_value) ~= 'number' then
    error('clip_grad_value_: clip_value must be a number, got ' .. type(clip_value), 2)
  end
  torch.no_grad(function()
    for _, p in ipairs(ps) do
      local g = p.grad
      if g ~= nil then g:clamp_(-clip_value, clip_value) end
    end
  end)
end

-- parameters_to_vector(parameters): one 1-d tensor of all parameters, in order
function utils.parameters_to_vector(parameters)
  local ps = param_list(parameters, 'parameters_to_vector')
  if #ps == 0 then error('parameters_to_vector: expected at least one parameter', 2) end
  local flat = {}
  for i, p in ipairs(ps) do flat[i] = p:reshape(-1) end
  return torch.cat(flat)
end

-- vector_to_parameters(vec, parameters): copies consecutive slices of vec into the parameters
function utils.vector_to_parameters(vec, parameters)
  if not torch.isTensor(vec) then
    error('vector_to_parameters: expected a tensor vec, got ' .. torch.type(vec), 2)
  end
  if vec:dim() ~= 1 then
    error(('vector_to_parameters: expected a 1-d vec, got %d-d'):format(vec:dim()), 2)
  end
  local ps = param_list(parameters, 'vector_to_parameters')
  local total = 0
  for _, p in ipairs(ps) do total = total + p:numel() end
  if total ~= vec:numel() then
    error(('vector_to_parameters: vec has %d elements but the parameters have %d'):format(vec:numel(), total), 2)
  end
  torch.no_grad(function()
    local off = 1
    for _, p in ipairs(ps) do
      local n = p:numel()
      p:copy_(vec:narrow(1, off, n):view(p:size()))
      off = off + n
    end
  end)
end

return utils
