-- Fashion-MNIST small CNN (conv5-pool-relu x2, fc 320->10), the training setup of mlp_fmnist.
-- Twin of ../shared/bench/pytorch/cnn_fmnist.py.
local torch = require 'torch'
local nn = require 'nn'
local B = dofile((arg and arg[0] or 'scripts/bench/cnn_fmnist.lua'):match('^(.*/)') .. 'fmnist_common.lua')

torch.manual_seed(0)
local x_train, y_train = B.load_fmnist('train')
local x_test, y_test = B.load_fmnist('t10k')

local model = nn.Sequential(
  nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(),  -- -> 10x12x12
  nn.Conv2d(10, 20, 5), nn.MaxPool2d(2), nn.ReLU(), -- -> 20x4x4
  nn.Flatten(),
  nn.Linear(320, 10))
B.train_eval('cnn_fmnist', model, x_train, y_train, x_test, y_test)
