-- nn.Parameter: a leaf tensor that a module registers as one of its parameters
-- when it is assigned to a field. A Parameter is an ordinary tensor (torch.isTensor
-- stays true); the mark lives in a weak-keyed set of tensor userdata, so it goes
-- away with the tensor.
local torch = require 'torch'
local nn = require 'nn'

local marked = setmetatable({}, { __mode = 'k' })

local Parameter = {}

-- nn.Parameter(t [, requires_grad=true]): a new leaf sharing t's data.
local function new(_, t, requires_grad)
  if t == nil then t = torch.empty(0) end
  if not torch.isTensor(t) then
    error('nn.Parameter: expected a tensor, got ' .. torch.type(t), 2)
  end
  if requires_grad ~= nil and type(requires_grad) ~= 'boolean' then
    error('nn.Parameter: requires_grad must be a boolean, got ' .. type(requires_grad), 2)
  end
  local p = t:detach()
  if requires_grad ~= false then
    if not p:is_floating_point() then
      error('nn.Parameter: only floating point tensors can require gradients, got ' .. p:type(), 2)
    end
    p:requires_grad_(true)
  end
  marked[p] = true
  return p
end

setmetatable(Parameter, { __call = new, __tostring = function() return 'nn.Parameter' end })

-- true when t is a tensor made by nn.Parameter
function Parameter.is(t)
  return torch.isTensor(t) and marked[t] == true
end

nn.Parameter = Parameter
nn.is_parameter = Parameter.is
return Parameter
