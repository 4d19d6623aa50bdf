-- nn.functional linear maps: linear (x W^T + b) and bilinear (x1^T W x2 + b),
-- written with differentiable matmuls so autograd gives every gradient.
local torch = require 'torch'

local F = {}

local function size_str(t)
  local s = t:size()
  local p = {}
  for i = 1, #s do p[i] = tostring(s[i]) end
  return #p == 0 and 'scalar' or table.concat(p, 'x')
end
F._size_str = size_str

local function check(x, what, name)
  if not torch.isTensor(x) then
    error(('%s: expected %s to be a tensor, got %s'):format(what, name, torch.type(x)), 3)
  end
end

-- linear(x, weight [, bias]): x (*, in), weight (out, in) or (in), bias (out)
function F.linear(x, weight, bias)
  check(x, 'linear', 'input')
  check(weight, 'linear', 'weight')
  if bias ~= nil then check(bias, 'linear', 'bias') end
  if weight:dim() ~= 1 and weight:dim() ~= 2 then
    error(('linear: weight must be 1-d or 2-d, got size %s'):format(size_str(weight)), 2)
  end
  local fin = weight:size(weight:dim())
  if x:dim() == 0 or x:size(x:dim()) ~= fin then
    error(('linear: expected input with %d features (last dim), got %s (input size %s)'):format(fin,
      x:dim() == 0 and 'a scalar' or tostring(x:size(x:dim())), size_str(x)), 2)
  end
  local y
  if weight:dim() == 1 then
    y = x:matmul(weight)
  elseif x:dim() == 2 and bias ~= nil and bias:dim() == 1 then
    return torch.addmm(bias, x, weight:t())
  else
    y = x:matmul(weight:t())
  end
  if bias ~= nil then y = y + bias end
  return y
end

-- bilinear(x1, x2, weight [, bias]): x1 (*, in1), x2 (*, in2), weight (out, in1, in2)
function F.bilinear(x1, x2, weight, bias)
  check(x1, 'bilinear', 'input1')
  check(x2, 'bilinear', 'input2')
  check(weight, 'bilinear', 'weight')
  if bias ~= nil then check(bias, 'bilinear', 'bias') end
  if weight:dim() ~= 3 then
    error(('bilinear: weight must be 3-d (out, in1, in2), got size %s'):format(size_str(weight)), 2)
  end
  local out, in1, in2 = weight:size(1), weight:size(2), weight:size(3)
  if x1:dim() == 0 or x1:size(x1:dim()) ~= in1 then
    error(('bilinear: expected input1 with %d features (last dim), got input size %s'):format(in1, size_str(x1)), 2)
  end
  if x2:dim() == 0 or x2:size(x2:dim()) ~= in2 then
    error(('bilinear: expected input2 with %d features (last dim), got input size %s'):format(in2, size_str(x2)), 2)
  end
  if x1:dim() ~= x2:dim() then
    error(('bilinear: input1 and input2 must have the same leading dims, got %s and %s'):format(size_str(x1),
      size_str(x2)), 2)
  end
  local lead = {}
  for d = 1, x1:dim() - 1 do
    if x1:size(d) ~= x2:size(d) then
      error(('bilinear: input1 and input2 must have the same leading dims, got %s and %s'):format(size_str(x1),
        size_str(x2)), 2)
    end
    lead[d] = x1:size(d)
  end
  local a = x1:reshape(-1, in1)                         -- (N, in1)
  local b = x2:reshape(-1, in2)                         -- (N, in2)
  local w = weight:permute(2, 1, 3):reshape(in1, out * in2) -- (in1, out*in2)
  local t = a:mm(w):view(-1, out, in2)                   -- (N, out, in2)
  local y = t:matmul(b:unsqueeze(3)):squeeze(3)          -- (N, out)
  if bias ~= nil then y = y + bias end
  lead[#lead + 1] = out
  return y:reshape(lead)
end

return F
