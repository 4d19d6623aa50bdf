-- The tutorial's temperature model, trained with raw autograd: unknown-unit
-- readings t_u are mapped to Celsius t_c by t_c = w * t_un + b (t_un = 0.1 * t_u),
-- fitting w and b by gradient descent on the mean squared error.
-- Run: build/th scripts/examples/linear_regression.lua
local torch = require 'torch'

local t_c = torch.tensor({ 0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0 })
local t_u = torch.tensor({ 35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4 })
local t_un = 0.1 * t_u

local function model(t, w, b) return w * t + b end
local function loss_fn(t_p, t) return ((t_p - t) ^ 2):mean() end

local function training_loop(n_epochs, learning_rate, params, t_in, t_out)
  for epoch = 1, n_epochs do
    if params.grad then params.grad:zero_() end
    local t_p = model(t_in, params[1], params[2])
    local loss = loss_fn(t_p, t_out)
    loss:backward()
    torch.no_grad(function() params:sub_(learning_rate * params.grad) end)
    if epoch % 500 == 0 then
      print(('Epoch %d, Loss %f'):format(epoch, loss:item()))
    end
  end
  return params
end

local params = training_loop(5000, 1e-2, torch.tensor({ 1.0, 0.0 }, { requires_grad = true }), t_un, t_c)
print(('w = %.4f, b = %.4f'):format(params[1]:item(), params[2]:item()))
